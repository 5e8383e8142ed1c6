import { createHash } from 'node:crypto';
import { StrataError } from '../errors.js';
import { parseJson } from '../codec/json.js';
import { MAX_KEY_BYTES } from '../codec/keys.js';
import type { ScanPosition } from '../drivers/driver.js';
import type { Filter, SortSpec } from './ast.js';

interface CursorBody {
  /** Sort-field values of the last item returned. */
  v: unknown[];
  /** Its key. */
  k: string;
  /** Fingerprint of the collection, filter and sort the cursor belongs to. */
  q: string;
}

/**
 * The longest cursor `page()` hands out or takes back, in characters. A cursor carries the
 * last item's sort values, so it grows with them: a page sorted on a field holding more
 * than about 750 kB of text has no next cursor (`BAD_INPUT`); `iterate()` has no such limit.
 */
export const MAX_CURSOR_LENGTH = 1024 * 1024;

/** Binds a cursor to its collection and query so it cannot silently be reused with another one. */
export function queryFingerprint(space: string, filter: Filter, sort: readonly SortSpec[]): string {
  return createHash('sha256')
    .update(JSON.stringify([space, filter, sort]))
    .digest('base64url')
    .slice(0, 12);
}

/**
 * Page cursors are keyset positions (the last item's sort values and key), not offsets, so a
 * page boundary stays put when other writers insert or delete around it.
 */
export function encodeCursor(position: Required<ScanPosition>, fingerprint: string): string {
  const body: CursorBody = { v: position.values, k: position.key, q: fingerprint };
  const cursor = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
  if (cursor.length > MAX_CURSOR_LENGTH) {
    throw new StrataError('BAD_INPUT', `the next page cursor would be longer than ${MAX_CURSOR_LENGTH} characters`, {
      hint: 'the last item holds a very long value in a sort field: sort on a shorter field, or read with iterate()',
    });
  }
  return cursor;
}

/** A value `sortValues` can produce: JSON with finite numbers and well-formed strings. */
function isSortValue(value: unknown, depth: number): boolean {
  if (value === null || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value === 'string') return value.isWellFormed();
  if (depth > 256 || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.every((v) => isSortValue(v, depth + 1));
  return Object.entries(value).every(([k, v]) => k.isWellFormed() && isSortValue(v, depth + 1));
}

function isKey(key: unknown): key is string {
  return (
    typeof key === 'string' &&
    key.length > 0 &&
    key.isWellFormed() &&
    (key.length <= 341 || Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES)
  );
}

/**
 * The position a cursor holds, after checking it is one `encodeCursor` made for this
 * collection, filter and sort: anything else (tampered, truncated, another query's) is
 * BAD_INPUT, never a page from a position no document could have.
 */
export function decodeCursor(cursor: unknown, fingerprint: string, sortLength: number): ScanPosition {
  const invalid = (): StrataError =>
    new StrataError('BAD_INPUT', 'page cursor is not valid for this query', {
      hint: 'pass back the next cursor returned by page() of the same collection with the same filter and sort',
    });
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH) throw invalid();
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let body: unknown;
  try {
    body = parseJson(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid();
  if (Object.keys(body).length !== 3) throw invalid();
  const { v, k, q } = body as Partial<CursorBody>;
  if (q !== fingerprint || !isKey(k) || !Array.isArray(v) || v.length !== sortLength) throw invalid();
  if (!v.every((value) => isSortValue(value, 0))) throw invalid();
  return { key: k, values: v };
}
