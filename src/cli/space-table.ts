import { formatBytes, formatCount, table } from './output.js';

/** One namespace or collection as store.stats() reports it. */
export interface SpaceRow {
  name: string;
  /** Live records: expired ones are not counted, even before the sweeper removes them. */
  records: number;
  bytes: number;
  /** Expired records not yet swept, when the backend reports them. */
  expired?: number;
}

/**
 * The `kind name records bytes` table of `strata list`, `strata stats` and `strata demo`.
 * An `expired` column appears only when some space holds expired records not swept yet, so
 * the records column (live records, what `get` and `list` see) is never read as a total.
 */
export function spaceTable(stats: { kv: readonly SpaceRow[]; collections: readonly SpaceRow[] }): string | null {
  const spaces = [...stats.kv.map((s) => ['kv', s] as const), ...stats.collections.map((s) => ['collection', s] as const)];
  if (spaces.length === 0) return null;
  const withExpired = spaces.some(([, s]) => (s.expired ?? 0) > 0);
  const headers = ['kind', 'name', 'records', 'bytes', ...(withExpired ? ['expired'] : [])];
  const rows = spaces.map(([kind, s]) => [
    kind,
    s.name,
    formatCount(s.records),
    formatBytes(s.bytes),
    ...(withExpired ? [formatCount(s.expired ?? 0)] : []),
  ]);
  return table(headers, rows);
}
