import { createHash } from 'node:crypto';
import { StrataError } from '../errors.js';
import { isExactJson, parseJson } from '../codec/json.js';
import { checkKey } from '../codec/keys.js';
import type { ScanPosition } from '../drivers/driver.js';
import type { Filter, SortSpec } from './ast.js';

interface CursorBody {
  /** Sort-field values of the last item returned. */
  v: unknown[];
  /** Its key. */
  k: string;
  /** Digest of the collection, filter and sort the cursor belongs to, and of `v` and `k`. */
  q: string;
}

/**
 * Binds a position to its query: a cursor whose position was edited (not only cut or
 * damaged) no longer matches. Not a secret: it refuses mistakes and edited cursors, and a
 * forger who recomputes it gains only a position in a query they could run anyway.
 */
function seal(fingerprint: string, values: readonly unknown[], key: string): string {
  return createHash('sha256')
    .update(JSON.stringify([fingerprint, values, key]))
    .digest('base64url')
    .slice(0, 16);
}

const encodeBody = (body: CursorBody): string => Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');

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
  const cursor = encodeBody({ v: position.values, k: position.key, q: seal(fingerprint, position.values, position.key) });
  if (cursor.length > MAX_CURSOR_LENGTH) {
    throw new StrataError('BAD_INPUT', `the next page cursor would be longer than ${MAX_CURSOR_LENGTH} characters`, {
      hint: 'the last item holds a very long value in a sort field: sort on a shorter field, or read with iterate()',
    });
  }
  return cursor;
}

/** A key as every write checks it (non-empty, well-formed, at most 1,024 UTF-8 bytes). */
function isKey(key: unknown): key is string {
  try {
    checkKey(key, 'page');
    return true;
  } catch {
    return false;
  }
}

/**
 * The position a cursor holds, after checking it is one `encodeCursor` made for this
 * collection, filter and sort: anything else (edited, truncated, another query's) is
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
  if (typeof q !== 'string' || !isKey(k) || !Array.isArray(v) || v.length !== sortLength) throw invalid();
  // Sort values are JSON a document held: finite numbers, well-formed strings, within the depth limit.
  if (!v.every(isExactJson)) throw invalid();
  // Exactly as encodeCursor wrote it, and for this query and position.
  if (q !== seal(fingerprint, v, k) || encodeBody({ v, k, q }) !== cursor) throw invalid();
  return { key: k, values: v };
}
