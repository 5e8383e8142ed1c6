import { hostname } from 'node:os';
import type { Driver } from '../drivers/driver.js';
import { encodeJson, parseExternalJson } from '../codec/json.js';
import { BUCKETS_MS, OP_KINDS, type MetricsState } from './metrics-state.js';

/** Where processes with metrics on keep their counters, one record per process. */
export const METRICS_SPACE = 'meta.metrics';
/** A process's record expires this long after its last write, so stopped processes age out. */
export const SNAPSHOT_RETENTION_MS = 7 * 86_400_000;

interface OpSnapshot {
  count: number;
  sumMs: number;
  /** Non-cumulative, one per `bucketsMs` entry plus +Inf. */
  buckets: number[];
}

/** One process's counters since it opened the store, as written to `meta.metrics`. */
export interface MetricsSnapshot {
  v: 1;
  host: string;
  pid: number;
  startedAt: number;
  updatedAt: number;
  bucketsMs: number[];
  spaces: Record<string, { ops: Record<string, OpSnapshot>; errors: Record<string, number>; puts: number; deletes: number }>;
}

export function snapshotOf(state: MetricsState, now: number): MetricsSnapshot {
  const spaces: MetricsSnapshot['spaces'] = {};
  for (const [space, c] of state.entries()) {
    const ops: Record<string, OpSnapshot> = {};
    OP_KINDS.forEach((op, i) => {
      if (c.counts[i]! === 0) return;
      const width = BUCKETS_MS.length + 1;
      ops[op] = { count: c.counts[i]!, sumMs: c.sumsMs[i]!, buckets: [...c.buckets.subarray(i * width, (i + 1) * width)] };
    });
    const errors: Record<string, number> = {};
    for (const [id, n] of c.errors) errors[id.replace('\u0000', ':')] = n;
    spaces[space] = { ops, errors, puts: c.puts, deletes: c.deletes };
  }
  return {
    v: 1,
    host: hostname(),
    pid: process.pid,
    startedAt: state.startedAt,
    updatedAt: now,
    bucketsMs: [...BUCKETS_MS],
    spaces,
  };
}

/** The record key of this process's snapshot: unique per process and open. */
export const snapshotKey = (state: MetricsState): string => `${hostname()}:${process.pid}:${state.startedAt}`;

/** Writes this process's counters (through `driver`, below the metrics layer, so the write is not counted). */
export async function writeSnapshot(driver: Driver, state: MetricsState, now: number): Promise<void> {
  const value = encodeJson(snapshotOf(state, now));
  await driver.batch(
    [{ type: 'put', space: METRICS_SPACE, key: snapshotKey(state), value, expiresAt: now + SNAPSHOT_RETENTION_MS }],
    now,
    { results: false },
  );
}

/** Totals of one space and operation kind over every process's snapshot. */
export interface OpTotals {
  space: string;
  op: string;
  count: number;
  /** Failures by StrataError code. */
  errors: Record<string, number>;
  meanMs: number;
  /** Estimated from the histogram buckets (linear within a bucket), as Prometheus' histogram_quantile does. */
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface MetricsTotals {
  /** Process records read (live ones: a record expires 7 days after its process last wrote it). */
  processes: number;
  /** Records that could not be read (damaged), skipped. */
  damaged: number;
  /** The earliest `startedAt` of the processes counted, ISO; null when none. */
  since: string | null;
  ops: OpTotals[];
}

/** Sums the snapshots every process with metrics on wrote to the store. */
export async function readTotals(driver: Driver, now: number): Promise<MetricsTotals> {
  const records = await driver.scan(METRICS_SPACE, {}, now);
  const merged = new Map<
    string,
    { count: number; sumMs: number; buckets: number[]; bucketsMs: number[]; errors: Record<string, number> }
  >();
  let damaged = 0;
  let since: number | null = null;
  let processes = 0;
  for (const record of records) {
    const snapshot = readSnapshot(record.value);
    if (snapshot === null) {
      damaged++;
      continue;
    }
    processes++;
    since = since === null ? snapshot.startedAt : Math.min(since, snapshot.startedAt);
    for (const [space, s] of Object.entries(snapshot.spaces)) {
      for (const [op, o] of Object.entries(s.ops)) {
        const id = `${space}\u0000${op}`;
        let m = merged.get(id);
        if (m === undefined) {
          m = { count: 0, sumMs: 0, buckets: [], bucketsMs: snapshot.bucketsMs, errors: {} };
          merged.set(id, m);
        }
        m.count += o.count;
        m.sumMs += o.sumMs;
        // Snapshots made with other bucket bounds (another Strata version) add counts, not buckets.
        if (sameBuckets(m.bucketsMs, snapshot.bucketsMs)) o.buckets.forEach((n, b) => (m.buckets[b] = (m.buckets[b] ?? 0) + n));
      }
      for (const [id, n] of Object.entries(s.errors)) {
        const at = id.lastIndexOf(':');
        const op = id.slice(0, at);
        const m = merged.get(`${space}\u0000${op}`);
        if (m !== undefined) m.errors[id.slice(at + 1)] = (m.errors[id.slice(at + 1)] ?? 0) + n;
      }
    }
  }
  const ops = [...merged].map(([id, m]) => {
    const [space, op] = id.split('\u0000') as [string, string];
    return {
      space,
      op,
      count: m.count,
      errors: m.errors,
      meanMs: m.count === 0 ? 0 : m.sumMs / m.count,
      p50Ms: quantile(m.buckets, m.bucketsMs, 0.5),
      p99Ms: quantile(m.buckets, m.bucketsMs, 0.99),
    };
  });
  ops.sort((a, b) =>
    a.space < b.space ? -1 : a.space > b.space ? 1 : OP_KINDS.indexOf(a.op as never) - OP_KINDS.indexOf(b.op as never),
  );
  return { processes, damaged, since: since === null ? null : new Date(since).toISOString(), ops };
}

const sameBuckets = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** The q-quantile from non-cumulative bucket counts; in the +Inf bucket, its lower bound. */
export function quantile(buckets: readonly number[], boundsMs: readonly number[], q: number): number | null {
  const total = buckets.reduce((n, c) => n + c, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let b = 0; b < buckets.length; b++) {
    const inBucket = buckets[b] ?? 0;
    if (seen + inBucket >= rank && inBucket > 0) {
      const low = b === 0 ? 0 : boundsMs[b - 1]!;
      if (b >= boundsMs.length) return low;
      return low + (boundsMs[b]! - low) * ((rank - seen) / inBucket);
    }
    seen += inBucket;
  }
  return boundsMs[boundsMs.length - 1] ?? null;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;

/** A snapshot record read defensively (written by any process, any version): null when it is not one. */
function readSnapshot(text: string): MetricsSnapshot | null {
  let value: unknown;
  try {
    value = parseExternalJson(text, 'a metrics snapshot');
  } catch {
    return null;
  }
  const s = value as Partial<MetricsSnapshot> | null;
  if (s === null || typeof s !== 'object' || s.v !== 1 || !isCount(s.startedAt)) return null;
  if (!Array.isArray(s.bucketsMs) || !s.bucketsMs.every(isCount)) return null;
  if (s.spaces === null || typeof s.spaces !== 'object') return null;
  for (const space of Object.values(s.spaces)) {
    if (space === null || typeof space !== 'object' || space.ops === null || typeof space.ops !== 'object') return null;
    if (space.errors === null || typeof space.errors !== 'object' || !Object.values(space.errors).every(isCount)) return null;
    for (const o of Object.values(space.ops)) {
      if (o === null || typeof o !== 'object' || !isCount(o.count) || !isCount(o.sumMs)) return null;
      if (!Array.isArray(o.buckets) || !o.buckets.every(isCount)) return null;
    }
  }
  return s as MetricsSnapshot;
}
