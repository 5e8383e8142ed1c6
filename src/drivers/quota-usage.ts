import { StrataError } from '../errors.js';
import type { WriteOp } from './driver.js';

/** What a quota limits: live records and the bytes of their keys and values. */
export interface Usage {
  records: number;
  bytes: number;
}

export type QuotaOp = Extract<WriteOp, { type: 'checkQuota' }>;

/**
 * The bytes a record counts for in `stats()` and quotas on every driver: the UTF-8 length of
 * its key and value, what SQLite's `octet_length` gives (UTF-16 units would make the same
 * CJK text a third of SQLite's size, an emoji half).
 */
export const recordBytes = (r: { readonly key: string; readonly value: string }): number =>
  Buffer.byteLength(r.key, 'utf8') + Buffer.byteLength(r.value, 'utf8');

/** The `space` of a store-wide `checkQuota`: every user space together. */
export const ALL_USER_SPACES = '*';

/** kv namespaces and collections; internal spaces (`meta.*`) never count against a quota. */
export const isUserSpace = (space: string): boolean => space.startsWith('kv.') || space.startsWith('c.');

/** Whether writes to `space` count against the quota of `op`. */
export const countsFor = (op: QuotaOp, space: string): boolean =>
  op.space === ALL_USER_SPACES ? isUserSpace(space) : op.space === space;

function owner(space: string): string {
  if (space === ALL_USER_SPACES) return 'the store';
  if (space.startsWith('kv.')) return `kv namespace "${space.slice(3)}"`;
  if (space.startsWith('c.')) return `collection "${space.slice(2)}"`;
  return `space "${space}"`;
}

/**
 * The QUOTA_EXCEEDED error of `op` when the batch raised a limited usage past its limit
 * (usage `before` -> `after`), or `null`. Growth alone is refused, so deletes and shrinking
 * writes always pass.
 */
export function quotaVerdict(op: QuotaOp, before: Usage, after: Usage, driver: string): StrataError | null {
  for (const dimension of ['records', 'bytes'] as const) {
    const limit = op[dimension];
    if (limit === undefined || after[dimension] <= limit || after[dimension] <= before[dimension]) continue;
    const unit = dimension === 'records' ? 'records' : 'bytes';
    return new StrataError(
      'QUOTA_EXCEEDED',
      `${owner(op.space)} would hold ${after[dimension]} ${unit}, over its quota of ${limit} ${unit}: nothing was written`,
      {
        driver,
        hint:
          op.space === ALL_USER_SPACES
            ? 'delete records or let their TTLs expire, or raise the quota option of openStore'
            : 'delete records from it or let their TTLs expire, or raise its quota option',
        details: { space: op.space, dimension, limit, usage: after[dimension], before: before[dimension] },
      },
    );
  }
  return null;
}

/** `quotaVerdict` thrown. */
export function checkQuotaUsage(op: QuotaOp, before: Usage, after: Usage, driver: string): void {
  const error = quotaVerdict(op, before, after, driver);
  if (error !== null) throw error;
}
