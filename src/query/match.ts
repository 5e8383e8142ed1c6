import type { Filter, JsonValue, Path, SortSpec } from './ast.js';
import type { ScanPosition, ScanQuery, StoredRecord } from '../drivers/driver.js';
import { parseJson } from '../codec/json.js';

const MISSING = Symbol('missing');
type Found = unknown | typeof MISSING;

/** Reads a dotted path out of a parsed JSON document. */
export function getPath(doc: unknown, path: Path): Found {
  let current: unknown = doc;
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return MISSING;
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return MISSING;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/**
 * Code-point order, which is also UTF-8 byte order: how SQLite, PostgreSQL (C collation) and
 * Redis order strings. JS `<` compares UTF-16 units, which disagrees above U+FFFF.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
      if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length < 0 ? -1 : a.length === b.length ? 0 : 1;
}

/** Sort rank and comparable form, mirroring SQLite's ordering of `json_extract` results. */
function sortable(value: Found): [rank: number, v: number | string] {
  if (value === MISSING || value === null || value === undefined) return [0, 0];
  if (typeof value === 'boolean') return [1, value ? 1 : 0];
  if (typeof value === 'number') return [1, value];
  if (typeof value === 'string') return [2, value];
  return [2, JSON.stringify(value)];
}

/** Total order over JSON values used by every in-memory sort. */
export function compareValues(a: Found, b: Found): number {
  const [ra, va] = sortable(a);
  const [rb, vb] = sortable(b);
  if (ra !== rb) return ra - rb;
  if (ra === 1) return (va as number) - (vb as number);
  if (ra === 2) return compareStrings(va as string, vb as string);
  return 0;
}

function jsonEqual(a: unknown, b: JsonValue): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as JsonValue[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]!));
  }
  const ak = Object.keys(a);
  const bo = b as Record<string, JsonValue>;
  return (
    ak.length === Object.keys(bo).length &&
    ak.every((k) => Object.hasOwn(bo, k) && jsonEqual((a as Record<string, unknown>)[k], bo[k]!))
  );
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Every value a filter path reaches, as MongoDB: through objects, and below the top level
 * also through arrays, into each element that is an object (`items.sku` on
 * `{ items: [{ sku: 'a' }, { sku: 'b' }] }` reaches 'a' and 'b'). One array level per
 * segment: an array nested in an array is not entered. Empty when the field is missing.
 */
export function resolvePath(doc: unknown, path: Path): unknown[] {
  let current: unknown[] = [doc];
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    const next: unknown[] = [];
    const step = (v: unknown): void => {
      if (isObject(v) && Object.prototype.hasOwnProperty.call(v, segment)) next.push(v[segment]);
    };
    for (const value of current) {
      if (i > 0 && Array.isArray(value)) value.forEach(step);
      else step(value);
    }
    if (next.length === 0) return next;
    current = next;
  }
  return current;
}

/** The value itself satisfies `test`, or it is an array with an element that does. */
function selfOrElement(value: unknown, test: (v: unknown) => boolean): boolean {
  return test(value) || (Array.isArray(value) && value.some(test));
}

function equalsAny(found: unknown[], values: readonly JsonValue[]): boolean {
  return values.some((value) => {
    // `null` means "missing or null", as in MongoDB: no value reached, or one that is null.
    if (value === null) return found.length === 0 || found.some((f) => selfOrElement(f, (v) => v === null));
    return found.some((f) => selfOrElement(f, (v) => jsonEqual(v, value)));
  });
}

/** Evaluates a parsed filter against a parsed document. */
export function matches(filter: Filter, doc: unknown): boolean {
  switch (filter.op) {
    case 'all':
      return true;
    case 'and':
      return filter.filters.every((f) => matches(f, doc));
    case 'or':
      return filter.filters.some((f) => matches(f, doc));
    case 'eq':
      return equalsAny(resolvePath(doc, filter.path), [filter.value]);
    case 'ne':
      return !equalsAny(resolvePath(doc, filter.path), [filter.value]);
    case 'in':
      return equalsAny(resolvePath(doc, filter.path), filter.values);
    case 'nin':
      return !equalsAny(resolvePath(doc, filter.path), filter.values);
    case 'exists':
      return resolvePath(doc, filter.path).length > 0 === filter.value;
    case 'size':
      return resolvePath(doc, filter.path).some((f) => Array.isArray(f) && f.length === filter.value);
    case 'prefix': {
      const prefix = filter.value;
      const test = (v: unknown): boolean => typeof v === 'string' && v.startsWith(prefix);
      return resolvePath(doc, filter.path).some((f) => selfOrElement(f, test));
    }
    default: {
      const { op, value } = filter;
      const test = (found: unknown): boolean => {
        if (typeof found !== typeof value) return false;
        const c = typeof found === 'number' ? found - (value as number) : compareStrings(found as string, value as string);
        if (op === 'gt') return c > 0;
        if (op === 'gte') return c >= 0;
        if (op === 'lt') return c < 0;
        return c <= 0;
      };
      return resolvePath(doc, filter.path).some((f) => selfOrElement(f, test));
    }
  }
}

/** The sort-field values of a document, as stored in a page cursor. */
export function sortValues(doc: unknown, sort: readonly SortSpec[]): unknown[] {
  return sort.map((s) => {
    const v = getPath(doc, s.path);
    return v === MISSING ? null : v;
  });
}

/** Compares two (sortValues, key) positions under a sort; the key ascending breaks ties. */
export function comparePositions(
  a: { values: readonly unknown[]; key: string },
  b: { values: readonly unknown[]; key: string },
  sort: readonly SortSpec[],
): number {
  for (let i = 0; i < sort.length; i++) {
    const c = compareValues(a.values[i], b.values[i]);
    if (c !== 0) return c * sort[i]!.dir;
  }
  return compareStrings(a.key, b.key);
}

interface Row {
  record: StoredRecord;
  values: unknown[];
}

/**
 * The `k` smallest rows in order, without sorting them all: a page of 50 out of 100k
 * records costs one pass instead of a full sort.
 */
function smallest(rows: Row[], k: number, order: (a: Row, b: Row) => number): Row[] {
  const best: Row[] = [];
  if (k <= 0) return best;
  for (const row of rows) {
    if (best.length === k && order(row, best[k - 1]!) >= 0) continue;
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (order(best[mid]!, row) <= 0) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, row);
    if (best.length > k) best.pop();
  }
  return best;
}

/**
 * Evaluates a whole scan over records held in memory: expiry, prefix, filter, sort, keyset
 * position, offset and limit. Memory-like drivers call this so they cannot drift apart.
 */
export function runScan(records: Iterable<StoredRecord>, query: ScanQuery, now: number): StoredRecord[] {
  const sort = query.sort ?? [];
  const needDoc = (query.filter !== undefined && query.filter.op !== 'all') || sort.length > 0;
  let rows: Row[] = [];
  for (const record of records) {
    if (record.expiresAt !== null && record.expiresAt <= now) continue;
    if (query.prefix !== undefined && !record.key.startsWith(query.prefix)) continue;
    if (!needDoc) {
      rows.push({ record, values: [] });
      continue;
    }
    const doc = parseJson(record.value);
    if (query.filter && !matches(query.filter, doc)) continue;
    rows.push({ record, values: sortValues(doc, sort) });
  }
  const order = (a: Row, b: Row): number =>
    comparePositions({ values: a.values, key: a.record.key }, { values: b.values, key: b.record.key }, sort);
  const after: ScanPosition | undefined = query.after;
  if (after) {
    const pos = { key: after.key, values: after.values ?? [] };
    rows = rows.filter((r) => comparePositions({ values: r.values, key: r.record.key }, pos, sort) > 0);
  }
  const start = query.offset ?? 0;
  const end = query.limit === undefined ? undefined : start + query.limit;
  rows = end !== undefined && end * 8 < rows.length ? smallest(rows, end, order) : rows.sort(order);
  return rows.slice(start, end).map((r) => r.record);
}
