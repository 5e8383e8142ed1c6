import type { BatchOptions, BatchResult, Driver, WriteOp } from '../drivers/driver.js';
import { JOURNAL_SPACE, journaled } from '../ops/journal-entry.js';
import { pruneJournal } from '../ops/journal-prune.js';

const JOURNAL_OP: WriteOp = { type: 'journal', space: JOURNAL_SPACE, key: '' };

const writesJournaled = (ops: readonly WriteOp[]): boolean =>
  ops.some((op) => (op.type === 'put' || op.type === 'delete') && journaled(op.space));

/**
 * The change-journal layer: right on top of the driver (below encryption, so values are
 * journaled as stored: ciphertext stays ciphertext), it ends every batch that puts or deletes
 * in a journaled space with a `journal` op. The driver writes the entries in the batch's own
 * atomic step (see `WriteOp` 'journal'): one commit, one fsync, for a write and its entries.
 */
export class JournalLayer implements Driver {
  readonly name: string;
  readonly inner: Driver;
  readonly capabilities: Driver['capabilities'];
  /** Entries older than this go (`pruneJournal`). */
  retentionMs: number;
  readonly getSync?: Driver['getSync'];
  readonly getValueSync?: Driver['getValueSync'];

  constructor(inner: Driver, retentionMs: number) {
    this.inner = inner;
    this.name = inner.name;
    this.capabilities = inner.capabilities;
    this.retentionMs = retentionMs;
    if (inner.getSync) this.getSync = inner.getSync.bind(inner);
    if (inner.getValueSync) this.getValueSync = inner.getValueSync.bind(inner);
  }

  async batch(ops: readonly WriteOp[], now: number, options?: BatchOptions): Promise<BatchResult[]> {
    if (!writesJournaled(ops)) return this.inner.batch(ops, now, options);
    // The driver builds the entries from the per-op results: always ask for them.
    const results = await this.inner.batch([...ops, JOURNAL_OP], now);
    if (options?.results === false) return [];
    results.pop();
    return results;
  }

  ensureSpace: Driver['ensureSpace'] = (space, spec) => this.inner.ensureSpace(space, spec);
  spaces: Driver['spaces'] = () => this.inner.spaces();
  get: Driver['get'] = (space, key, now) => this.inner.get(space, key, now);
  getMany: Driver['getMany'] = (space, keys, now) => this.inner.getMany(space, keys, now);
  scan: Driver['scan'] = (space, query, now) => this.inner.scan(space, query, now);
  count: Driver['count'] = (space, query, now) => this.inner.count(space, query, now);
  /**
   * Expiry purges are not journaled (a replayed put keeps its `expiresAt`, so it expires the
   * same). The sweeper's call also prunes the journal by retention; the count returned is the
   * expired records' only, which the sweeper's chunking relies on.
   */
  purgeExpired: Driver['purgeExpired'] = async (now, limit) => {
    const removed = await this.inner.purgeExpired(now, limit);
    await pruneJournal(this.inner, this.retentionMs, now);
    return removed;
  };
  watch: Driver['watch'] = (listener) => this.inner.watch(listener);
  stats: Driver['stats'] = (now) => this.inner.stats(now);
  verify: Driver['verify'] = (options) => this.inner.verify(options);
  close: Driver['close'] = () => this.inner.close();
}

/** The journal layer of a driver stack, found through the layers' `inner`, if it has one. */
export function journalLayerOf(driver: Driver): JournalLayer | undefined {
  let at: Driver | undefined = driver;
  for (let depth = 0; at !== undefined && depth < 16; depth++) {
    if (at instanceof JournalLayer) return at;
    at = 'inner' in at ? (at as { inner: Driver }).inner : undefined;
  }
  return undefined;
}
