import type { MetricsTotals, OpTotals } from '../observe/persist.js';
import { spaceKind } from '../context.js';
import { formatCount, table } from './output.js';

/** Latency for reading: `850 µs`, `2.41 ms`, `310 ms`, `1.20 s`. */
export function formatLatency(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1) return `${Math.max(1, Math.round(ms * 1000))} µs`;
  if (ms < 100) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** `CONFLICT 3, QUOTA_EXCEEDED 1`, or `-`. */
const errorsCell = (errors: OpTotals['errors']): string =>
  Object.entries(errors)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, n]) => `${code} ${formatCount(n)}`)
    .join(', ') || '-';

/**
 * The `kind name op count errors p50 p99` table of `strata stats`: totals over every process
 * that wrote its counters (`metrics` on), for kv namespaces, collections and `_other` (the
 * spaces past the label cap); the store's internal `meta.*` spaces are in --json only.
 * `null` when no process has written any.
 */
export function metricsTable(totals: MetricsTotals): string | null {
  const rows = totals.ops.flatMap((o) => {
    const kind = spaceKind(o.space);
    if (kind === null && o.space !== '_other') return [];
    return [
      [
        kind?.kind ?? 'other',
        kind?.name ?? o.space,
        o.op,
        formatCount(o.count),
        errorsCell(o.errors),
        formatLatency(o.p50Ms),
        formatLatency(o.p99Ms),
      ],
    ];
  });
  if (rows.length === 0) return null;
  const from = `${formatCount(totals.processes)} process${totals.processes === 1 ? '' : 'es'}`;
  const heading = `operations (counted by ${from} with metrics on, since ${totals.since ?? '-'}):`;
  return `${heading}\n${table(['kind', 'name', 'op', 'count', 'errors', 'p50', 'p99'], rows)}`;
}
