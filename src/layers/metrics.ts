import { performance } from 'node:perf_hooks';
import type { BatchOptions, BatchResult, Driver, ScanQuery, StoredRecord, WriteOp } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { OP_INDEX, STORE_SPACE, type MetricsState, type OpKind, type SpaceCounters } from '../observe/metrics-state.js';

/** A driver that counts and times every operation per space into `state`. */
export interface MetricsDriver extends Driver {
  readonly state: MetricsState;
  /** The driver (or stack) this layer wraps. */
  readonly inner: Driver;
}

const GET = OP_INDEX.get;

/** The error code a failure is counted under: anything that is not a StrataError is UNAVAILABLE, as `withOp` reports it. */
const codeOf = (error: unknown): string => (error instanceof StrataError ? error.code : 'UNAVAILABLE');

/**
 * The metrics layer: per space, how many of each operation kind, how long they took (one
 * histogram observation per call, timed with `performance.now()`), failures by error code,
 * and the records put and deleted by batches (a delete of an absent key deletes nothing, so
 * it is not counted). The synchronous read paths (`getSync`, `getValueSync`) stay
 * synchronous, so `kv.get` on SQLite keeps its fast path.
 * A batch counts once in each space it writes to.
 */
export function metricsLayer(inner: Driver, state: MetricsState, onClose?: () => Promise<void>): MetricsDriver {
  const timed = <T>(space: string, op: OpKind, run: () => Promise<T>): Promise<T> => {
    const counters = state.of(space);
    const started = performance.now();
    state.changes++;
    const done = (): void => counters.observe(OP_INDEX[op], performance.now() - started);
    return run().then(
      (result) => {
        done();
        return result;
      },
      (error: unknown) => {
        done();
        counters.fail(op, codeOf(error));
        throw error;
      },
    );
  };

  const layer: MetricsDriver = {
    name: inner.name,
    inner,
    state,
    capabilities: inner.capabilities,
    ensureSpace: inner.ensureSpace.bind(inner),
    spaces: inner.spaces.bind(inner),
    get: (space, key, now) => timed(space, 'get', () => inner.get(space, key, now)),
    getMany: (space, keys, now) => timed(space, 'getMany', () => inner.getMany(space, keys, now)),
    scan: (space: string, query: ScanQuery, now: number): Promise<StoredRecord[]> =>
      timed(space, 'scan', () => inner.scan(space, query, now)),
    count: (space, query, now) => timed(space, 'count', () => inner.count(space, query, now)),
    async batch(ops: readonly WriteOp[], now: number, options?: BatchOptions): Promise<BatchResult[]> {
      const touched = spacesWritten(ops, state);
      const started = performance.now();
      state.changes++;
      try {
        // A delete counts only when a record went, which its result tells (null: there was
        // none), so results are asked for even when the caller ignores them.
        const deletes = options?.results === false && ops.some((op) => op.type === 'delete');
        const results = await inner.batch(ops, now, deletes ? { ...options, results: true } : options);
        const ms = performance.now() - started;
        for (const counters of touched) counters.observe(OP_INDEX.batch, ms);
        countWrites(ops, results, state);
        return results;
      } catch (error) {
        const ms = performance.now() - started;
        const code = codeOf(error);
        for (const counters of touched) {
          counters.observe(OP_INDEX.batch, ms);
          counters.fail('batch', code);
        }
        throw error;
      }
    },
    purgeExpired: (now, limit) => timed(STORE_SPACE, 'purgeExpired', () => inner.purgeExpired(now, limit)),
    watch: inner.watch.bind(inner),
    stats: inner.stats.bind(inner),
    verify: inner.verify.bind(inner),
    async close() {
      // Counters are written (when persisted) while the driver is still open.
      if (onClose !== undefined) await onClose().catch(() => {});
      await inner.close();
    },
  };
  const getSync = inner.getSync;
  if (getSync !== undefined) {
    layer.getSync = (space, key, now) => {
      const counters = state.of(space);
      const started = performance.now();
      state.changes++;
      try {
        const record = getSync.call(inner, space, key, now);
        counters.observe(GET, performance.now() - started);
        return record;
      } catch (error) {
        counters.observe(GET, performance.now() - started);
        counters.fail('get', codeOf(error));
        throw error;
      }
    };
  }
  const getValueSync = inner.getValueSync;
  if (getValueSync !== undefined) {
    layer.getValueSync = (space, key, now) => {
      const counters = state.of(space);
      const started = performance.now();
      state.changes++;
      try {
        const text = getValueSync.call(inner, space, key, now);
        counters.observe(GET, performance.now() - started);
        return text;
      } catch (error) {
        counters.observe(GET, performance.now() - started);
        counters.fail('get', codeOf(error));
        throw error;
      }
    };
  }
  return layer;
}

/** The counters of each space a batch puts into or deletes from (checks alone are not writes). */
function spacesWritten(ops: readonly WriteOp[], state: MetricsState): SpaceCounters[] {
  const touched: SpaceCounters[] = [];
  let last: string | null = null;
  for (const op of ops) {
    if ((op.type !== 'put' && op.type !== 'delete') || op.space === last) continue;
    last = op.space;
    const counters = state.of(op.space);
    if (!touched.includes(counters)) touched.push(counters);
  }
  // A batch of checks only (a read-only transaction validating its reads): counted where it looked.
  if (touched.length === 0 && ops.length > 0) touched.push(state.of(ops[0]!.space));
  return touched;
}

/** Records put, and records deleted (a delete whose result is null found nothing), per space. */
function countWrites(ops: readonly WriteOp[], results: readonly BatchResult[], state: MetricsState): void {
  let last: string | null = null;
  let counters: SpaceCounters | undefined;
  ops.forEach((op, i) => {
    if (op.type !== 'put' && (op.type !== 'delete' || results[i] === null)) return;
    if (op.space !== last) {
      last = op.space;
      counters = state.of(op.space);
    }
    if (op.type === 'put') counters!.puts++;
    else counters!.deletes++;
  });
}
