import type { BatchResult, Driver, ScanQuery, StoredRecord, WriteOp } from './drivers/driver.js';
import { MemoryState } from './drivers/memory-state.js';
import { runScan } from './query/match.js';
import { StrataError } from './errors.js';

const id = (space: string, key: string): string => `${space}\u0000${key}`;

/**
 * The driver a transaction's handles talk to: optimistic concurrency over any backend.
 * Reads go to the real driver and remember the version they saw; writes are buffered in
 * an overlay (so the transaction reads its own writes). `commit` sends ONE atomic batch:
 * a `check` for every version seen, then every write in order. If another writer got in
 * between, the batch fails with CONFLICT and nothing is written; `store.transaction` then
 * reruns the function. Works on every driver whose `batch` is atomic.
 */
export class TransactionDriver implements Driver {
  readonly name: string;
  readonly capabilities;
  readonly #base: Driver;
  /** Version first seen per key (0 = absent): what commit re-checks. */
  readonly #seen = new Map<string, { space: string; key: string; version: number }>();
  /** Current view of keys this transaction touched: its own writes on top of what it read. */
  readonly #overlay = new MemoryState();
  readonly #touched = new Set<string>();
  readonly #writes: WriteOp[] = [];

  constructor(base: Driver) {
    this.#base = base;
    this.name = base.name;
    // Reads go through the overlay, which is asynchronous.
    this.capabilities = { ...base.capabilities, syncReads: false };
  }

  async #load(space: string, key: string, now: number): Promise<StoredRecord | null> {
    const k = id(space, key);
    if (this.#touched.has(k)) return this.#overlay.get(space, key, now);
    const record = await this.#base.get(space, key, now);
    this.#remember(space, key, record);
    return record;
  }

  #remember(space: string, key: string, record: StoredRecord | null): void {
    const k = id(space, key);
    if (this.#touched.has(k)) return;
    this.#touched.add(k);
    this.#seen.set(k, { space, key, version: record?.version ?? 0 });
    if (record) this.#overlay.space(space).set(key, record);
  }

  ensureSpace(space: string, spec: { indexes?: readonly string[] }): Promise<void> {
    return this.#base.ensureSpace(space, spec);
  }

  spaces(): Promise<string[]> {
    return this.#base.spaces();
  }

  get(space: string, key: string, now: number): Promise<StoredRecord | null> {
    return this.#load(space, key, now);
  }

  async getMany(space: string, keys: readonly string[], now: number): Promise<Array<StoredRecord | null>> {
    const out: Array<StoredRecord | null> = [];
    for (const key of keys) out.push(await this.#load(space, key, now));
    return out;
  }

  /** Committed matches merged with this transaction's own writes, then ordered and cut. */
  async scan(space: string, query: ScanQuery, now: number): Promise<StoredRecord[]> {
    const base = await this.#base.scan(space, { prefix: query.prefix, filter: query.filter }, now);
    for (const record of base) this.#remember(space, record.key, record);
    // The overlay now holds every committed match plus this transaction's writes (deletes
    // removed); runScan re-applies prefix and filter to the rest it holds.
    return runScan(this.#overlay.space(space).values(), query, now);
  }

  async count(space: string, query: Pick<ScanQuery, 'prefix' | 'filter'>, now: number): Promise<number> {
    return (await this.scan(space, query, now)).length;
  }

  async batch(ops: readonly WriteOp[], now: number): Promise<BatchResult[]> {
    for (const op of ops) await this.#load(op.space, op.key, now);
    const plan = this.#overlay.plan(ops, now, this.name);
    this.#overlay.apply(plan.mutations);
    for (const op of ops) {
      if (op.type === 'check') continue;
      const { expect: _expect, ...write } = op;
      this.#writes.push(write);
    }
    return plan.results;
  }

  async purgeExpired(): Promise<number> {
    throw new StrataError('UNSUPPORTED', 'purgeExpired is not available inside a transaction');
  }

  watch(): () => void {
    throw new StrataError('UNSUPPORTED', 'watch is not available inside a transaction');
  }

  stats(): never {
    throw new StrataError('UNSUPPORTED', 'stats is not available inside a transaction');
  }

  verify(): never {
    throw new StrataError('UNSUPPORTED', 'verify is not available inside a transaction');
  }

  async close(): Promise<void> {}

  /** Writes everything atomically, or rejects with CONFLICT and writes nothing. */
  async commit(now: number): Promise<void> {
    if (this.#writes.length === 0) return;
    const checks: WriteOp[] = [...this.#seen.values()].map((s) => ({
      type: 'check',
      space: s.space,
      key: s.key,
      expect: s.version,
    }));
    await this.#base.batch([...checks, ...this.#writes], now);
  }
}
