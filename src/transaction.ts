import type { BatchResult, Driver, ScanQuery, StoredRecord, WriteOp } from './drivers/driver.js';
import { MemoryState } from './drivers/memory-state.js';
import { scanRecords } from './drivers/memory-scan.js';
import { SortedKeys } from './drivers/sorted-keys.js';
import { scanDigest } from './drivers/scan-digest.js';
import { asRead } from './drivers/record-stamp.js';
import { StrataError } from './errors.js';

/**
 * The driver a transaction's handles talk to: optimistic concurrency over any backend.
 * Reads go to the real driver and remember the version they saw; writes are buffered in
 * an overlay (so the transaction reads its own writes). `commit` sends ONE atomic batch:
 * a `check` for every version seen, then every write in order. If another writer got in
 * between, the batch fails with CONFLICT and nothing is written; `store.transaction` then
 * reruns the function. Works on every driver whose `batch` is atomic.
 *
 * Serializable: every scan also records the query it sent and a digest of what came back,
 * and commit asks the driver (`checkScan`, in the same atomic batch) whether that query
 * still returns the same records, so a record another writer inserted into, or removed
 * from, a range this transaction counted or listed (a phantom) is a conflict too. A
 * transaction that only read is validated the same way before its result is returned.
 */
export class TransactionDriver implements Driver {
  readonly name: string;
  readonly capabilities;
  readonly #base: Driver;
  /**
   * Every key this transaction touched (read or wrote), per space: the record as first seen
   * (its version, 0 = absent, and stamp: `asRead`), which commit re-checks, and the keys in order, which tell a paged scan
   * how many of them lie after its position (see #baseWindow).
   */
  readonly #seen = new Map<string, { reads: Map<string, ReturnType<typeof asRead>>; order: SortedKeys; scanned: Set<string> }>();
  /** Current view of keys this transaction touched: its own writes on top of what it read. */
  readonly #overlay = new MemoryState();
  readonly #writes: WriteOp[] = [];
  /** One `checkScan` per distinct (space, base query, digest) this transaction read. */
  readonly #scans = new Map<string, WriteOp>();
  /** Calls still running: commit waits for them, so a write the function did not await is not lost. */
  readonly #inflight = new Set<Promise<unknown>>();
  /** False once the transaction committed or gave up: a handle kept past it is CLOSED. */
  #open = true;

  constructor(base: Driver) {
    this.#base = base;
    this.name = base.name;
    // Reads go through the overlay, which is asynchronous.
    this.capabilities = { ...base.capabilities, syncReads: false, images: false };
  }

  async #load(space: string, key: string, now: number): Promise<StoredRecord | null> {
    if (this.#seen.get(space)?.reads.has(key) === true) return this.#overlay.get(space, key, now);
    const record = await this.#base.get(space, key, now);
    this.#remember(space, key, record, false);
    return record;
  }

  #remember(space: string, key: string, record: StoredRecord | null, scanned: boolean): void {
    let seen = this.#seen.get(space);
    if (seen === undefined) {
      const reads = new Map<string, ReturnType<typeof asRead>>();
      seen = { reads, order: new SortedKeys(reads), scanned: new Set() };
      this.#seen.set(space, seen);
    }
    if (seen.reads.has(key)) return;
    seen.order.adding(key);
    // Before the overlay holds it (a record without a stamp gets one there).
    seen.reads.set(key, asRead(record));
    // First seen in a scan's answer: that scan's check covers this version (see #checks).
    if (scanned) seen.scanned.add(key);
    if (record) this.#overlay.space(space).set(key, record);
  }

  ensureSpace(space: string, spec: { indexes?: readonly string[] }): Promise<void> {
    return this.#base.ensureSpace(space, spec);
  }

  spaces(): Promise<string[]> {
    return this.#base.spaces();
  }

  #track<R>(op: string, run: () => Promise<R>): Promise<R> {
    if (!this.#open) {
      return Promise.reject(
        new StrataError('CLOSED', `${op}: this transaction has ended, so its handles no longer read or write`, {
          op,
          hint: 'use the tx handles only inside the function passed to store.transaction, and await every call',
        }),
      );
    }
    const promise = run();
    this.#inflight.add(promise);
    const done = (): void => void this.#inflight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  /** Waits for every call still running, then takes no more. */
  async #finish(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    this.#open = false;
  }

  get(space: string, key: string, now: number): Promise<StoredRecord | null> {
    return this.#track('transaction.get', () => this.#load(space, key, now));
  }

  getMany(space: string, keys: readonly string[], now: number): Promise<Array<StoredRecord | null>> {
    return this.#track('transaction.getMany', async () => {
      const out: Array<StoredRecord | null> = [];
      for (const key of keys) out.push(await this.#load(space, key, now));
      return out;
    });
  }

  scan(space: string, query: ScanQuery, now: number): Promise<StoredRecord[]> {
    return this.#track('transaction.scan', () => this.#scan(space, query, now));
  }

  /** Committed matches merged with this transaction's own writes, then ordered and cut. */
  async #scan(space: string, query: ScanQuery, now: number): Promise<StoredRecord[]> {
    const window = this.#baseWindow(space, query);
    const base = await this.#base.scan(space, window, now);
    // #baseWindow drops the keysOnly/valuesOnly hints, so these versions are real. Digested
    // before the overlay holds the records (a record without a stamp gets one there).
    const expect = scanDigest(base);
    for (const record of base) this.#remember(space, record.key, record, true);
    const id = `${space}\u0000${JSON.stringify(window)}\u0000${expect}`;
    if (!this.#scans.has(id)) this.#scans.set(id, { type: 'checkScan', space, key: '', query: window, expect });
    // The overlay now holds every committed match in the window plus every key this
    // transaction touched (deletes removed); the scan re-applies the whole query to it.
    return scanRecords(this.#overlay.space(space), query, now);
  }

  /**
   * What to ask the committed store for. A page in key order needs only the committed
   * records after its position: the first `limit` of the merged view are among the first
   * `limit + t` committed ones, t being the keys this transaction touched after the position
   * (each can hide, move or replace at most one). Without that window, paging through a
   * space inside a transaction read the whole space for every page. Sorted or offset scans
   * still read every committed match.
   */
  #baseWindow(space: string, query: ScanQuery): ScanQuery {
    const whole = { prefix: query.prefix, filter: query.filter };
    if ((query.sort?.length ?? 0) > 0 || query.offset || query.limit === undefined) return whole;
    const touched = this.#seen.get(space)?.order.countAfter(query.after?.key) ?? 0;
    return { ...whole, after: query.after, limit: query.limit + touched };
  }

  count(space: string, query: Pick<ScanQuery, 'prefix' | 'filter'>, now: number): Promise<number> {
    return this.#track('transaction.count', async () => (await this.#scan(space, query, now)).length);
  }

  batch(ops: readonly WriteOp[], now: number): Promise<BatchResult[]> {
    return this.#track('transaction.batch', () => this.#batch(ops, now));
  }

  async #batch(ops: readonly WriteOp[], now: number): Promise<BatchResult[]> {
    for (const op of ops) if (op.type !== 'checkScan' && op.type !== 'journal') await this.#load(op.space, op.key, now);
    const plan = this.#overlay.plan(ops, now, this.name);
    this.#overlay.apply(plan.mutations);
    for (const op of ops) {
      if (op.type === 'check' || op.type === 'checkScan' || op.type === 'checkQuota' || op.type === 'journal') continue;
      const { expect: _expect, stamp: _stamp, ...write } = op;
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

  /**
   * Writes everything atomically, or rejects with CONFLICT and writes nothing. The batch
   * checks every version read and every scan first; with no writes it is only those checks
   * (a read-only transaction is validated too: its reads must all come from one state).
   */
  async commit(now: number): Promise<void> {
    await this.#finish();
    const ops = this.#checks();
    if (ops.length === 0 && this.#writes.length === 0) return;
    await this.#base.batch(ops.concat(this.#writes), now, { results: false });
  }

  /** Validates the reads alone (no writes): rejects with CONFLICT when any is stale. */
  async validate(now: number): Promise<void> {
    await this.#finish();
    const ops = this.#checks();
    if (ops.length > 0) await this.#base.batch(ops, now, { results: false });
  }

  #checks(): WriteOp[] {
    const checks: WriteOp[] = [];
    for (const [space, seen] of this.#seen) {
      for (const [key, read] of seen.reads) {
        // A key first seen in a scan's answer needs no check of its own: the scan's digest
        // holds that version, so its `checkScan` fails when the record changed or went.
        if (!seen.scanned.has(key)) checks.push({ type: 'check', space, key, ...read });
      }
    }
    for (const op of this.#scans.values()) checks.push(op);
    return checks;
  }
}
