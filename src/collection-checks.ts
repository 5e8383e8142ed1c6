import { StrataError } from './errors.js';
import { checkOptions } from './codec/options.js';
import { parseQuota } from './layers/quota.js';

/** Argument checks shared by the collection methods: bad input is BAD_INPUT before anything is read or written. */

export const MAX_PAGE_LIMIT = 10_000;
const COLLECTION_OPTIONS = ['schema', 'key', 'indexes', 'encrypt', 'ttl', 'timestamps', 'quota'] as const;

export function checkCount(value: unknown, what: string, op: string): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || (value as number) < 0)) {
    throw new StrataError('BAD_INPUT', `${op}: ${what} must be a non-negative integer`, {
      op,
      hint: `pass a whole number of 0 or more as ${what}, or leave it out`,
    });
  }
}

export function checkPageSize(value: unknown, what: string, op: string): void {
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > MAX_PAGE_LIMIT) {
    throw new StrataError('BAD_INPUT', `${op}: ${what} must be an integer from 1 to ${MAX_PAGE_LIMIT}`, {
      op,
      hint: `pass ${what} from 1 to ${MAX_PAGE_LIMIT}; walk further with the page's next cursor`,
    });
  }
}

/** Checks the declaration itself: unknown options and wrong types are BAD_INPUT, never ignored. */
export function checkDeclaration(name: string, options: unknown): void {
  const op = 'store.collection';
  checkOptions(options, COLLECTION_OPTIONS, op);
  const o = (options ?? {}) as Record<string, unknown>;
  if (o.quota !== undefined) parseQuota(o.quota, `collection "${name}"`, op);
  const bad = (what: string): StrataError => new StrataError('BAD_INPUT', `collection "${name}": ${what}`, { op });
  if (o.key !== undefined && typeof o.key !== 'string') throw bad('key must be the name of a top-level field');
  if (o.indexes !== undefined && (!Array.isArray(o.indexes) || o.indexes.some((p) => typeof p !== 'string'))) {
    throw bad('indexes must be an array of field paths');
  }
  // `encrypt` is checked where it is parsed (crypto/spec.ts parseEncryptFields).
  if (o.timestamps !== undefined && typeof o.timestamps !== 'boolean') throw bad('timestamps must be true or false');
}
