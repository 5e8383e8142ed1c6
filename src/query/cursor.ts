import { createHash } from 'node:crypto';
import { StrataError } from '../errors.js';
import { parseJson } from '../codec/json.js';
import type { ScanPosition } from '../drivers/driver.js';
import type { Filter, SortSpec } from './ast.js';

interface CursorBody {
  /** Sort-field values of the last item returned. */
  v: unknown[];
  /** Its key. */
  k: string;
  /** Fingerprint of the filter and sort the cursor belongs to. */
  q: string;
}

/** Binds a cursor to its query so it cannot silently be reused with another one. */
export function queryFingerprint(filter: Filter, sort: readonly SortSpec[]): string {
  return createHash('sha256')
    .update(JSON.stringify([filter, sort]))
    .digest('base64url')
    .slice(0, 12);
}

/**
 * Page cursors are keyset positions (the last item's sort values and key), not offsets, so a
 * page boundary stays put when other writers insert or delete around it.
 */
export function encodeCursor(position: Required<ScanPosition>, fingerprint: string): string {
  const body: CursorBody = { v: position.values, k: position.key, q: fingerprint };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: unknown, fingerprint: string): ScanPosition {
  const invalid = (): StrataError =>
    new StrataError('BAD_INPUT', 'page cursor is not valid for this query', {
      hint: 'pass back the next cursor returned by page() with the same filter and sort',
    });
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 16_384) throw invalid();
  let body: unknown;
  try {
    body = parseJson(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (body === null || typeof body !== 'object') throw invalid();
  const { v, k, q } = body as Partial<CursorBody>;
  if (!Array.isArray(v) || typeof k !== 'string' || q !== fingerprint) throw invalid();
  return { key: k, values: v };
}
