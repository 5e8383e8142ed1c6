import type { ScanQuery, StoredRecord } from './driver.js';
import type { SortSpec } from '../query/ast.js';
import { parseJson } from '../codec/json.js';
import { comparePositions, matches, runScan, sortValues } from '../query/match.js';
import type { RecordMap } from './record-map.js';
import { searchKeys } from './sorted-keys.js';

/**
 * Scans one space held in memory (memory driver, file driver's image) with the semantics of
 * `runScan`, without reading every record for every page:
 * - key order (no sort): binary search to the prefix or the keyset position in the space's
 *   sorted keys, then read only until the page is full;
 * - sorted, first page: `runScan`, which keeps the top rows without sorting them all;
 * - sorted, later pages: every match sorted once and kept until the next write, each page a
 *   binary search into it.
 */
export function scanRecords(records: RecordMap, query: ScanQuery, now: number): StoredRecord[] {
  if (query.sort === undefined || query.sort.length === 0) return scanInKeyOrder(records, query, now);
  if (query.after === undefined) return runScan(records.values(), query, now);
  return scanSortedAfter(records, query, query.sort, now);
}

const expired = (record: StoredRecord, now: number): boolean => record.expiresAt !== null && record.expiresAt <= now;

/** Adds records from `candidates` (already in order) that pass expiry and filter, honouring offset and limit. */
function take(candidates: Iterable<StoredRecord>, query: ScanQuery, now: number): StoredRecord[] {
  const filter = query.filter !== undefined && query.filter.op !== 'all' ? query.filter : undefined;
  const limit = query.limit ?? Infinity;
  let skip = query.offset ?? 0;
  const out: StoredRecord[] = [];
  if (limit <= 0) return out;
  for (const record of candidates) {
    if (expired(record, now)) continue;
    if (filter !== undefined && !matches(filter, parseJson(record.value))) continue;
    if (skip > 0) {
      skip--;
      continue;
    }
    out.push(record);
    if (out.length >= limit) break;
  }
  return out;
}

function scanInKeyOrder(records: RecordMap, query: ScanQuery, now: number): StoredRecord[] {
  const keys = records.sortedKeys();
  const prefix = query.prefix;
  let start = prefix === undefined ? 0 : searchKeys(keys, prefix, false);
  if (query.after !== undefined) start = Math.max(start, searchKeys(keys, query.after.key, true));
  // Keys sharing a prefix are contiguous in code-point order: stop at the first that does not.
  function* inOrder(): Generator<StoredRecord> {
    for (let i = start; i < keys.length; i++) {
      const key = keys[i]!;
      if (prefix !== undefined && !key.startsWith(prefix)) return;
      const record = records.get(key);
      if (record !== undefined) yield record; // else deleted since the keys were sorted
    }
  }
  return take(inOrder(), query, now);
}

interface SortedRow {
  key: string;
  values: unknown[];
  record: StoredRecord;
}

interface SortedMatches {
  fingerprint: string;
  /** Built at this time: rows expired then are missing, so it serves this time and later only. */
  builtAt: number;
  rows: SortedRow[];
}

function scanSortedAfter(records: RecordMap, query: ScanQuery, sort: readonly SortSpec[], now: number): StoredRecord[] {
  const fingerprint = JSON.stringify([query.filter ?? null, sort, query.prefix ?? null]);
  let cache = records.scanCache as SortedMatches | undefined;
  if (cache === undefined || cache.fingerprint !== fingerprint || now < cache.builtAt) {
    const rows: SortedRow[] = [];
    for (const record of records.values()) {
      if (expired(record, now)) continue;
      if (query.prefix !== undefined && !record.key.startsWith(query.prefix)) continue;
      const doc = parseJson(record.value);
      if (query.filter !== undefined && !matches(query.filter, doc)) continue;
      rows.push({ key: record.key, values: sortValues(doc, sort), record });
    }
    rows.sort((a, b) => comparePositions(a, b, sort));
    cache = { fingerprint, builtAt: now, rows };
    records.scanCache = cache;
  }
  const rows = cache.rows;
  const position = { key: query.after!.key, values: query.after!.values ?? [] };
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePositions(rows[mid]!, position, sort) <= 0) lo = mid + 1;
    else hi = mid;
  }
  function* from(): Generator<StoredRecord> {
    for (let i = lo; i < rows.length; i++) yield rows[i]!.record;
  }
  // The filter was applied when the rows were built; only expiry can have changed since.
  return take(from(), { offset: query.offset, limit: query.limit }, now);
}
