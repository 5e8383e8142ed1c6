import { checkKey } from './codec/keys.js';
import { encodeJson, isExactJson } from './codec/json.js';
import { bareMessage, StrataError } from './errors.js';

// Argument checks of kv.ts: the option names each call accepts (anything else is BAD_INPUT,
// see codec/options.ts) and the value checks shared by several calls.

export const SET_OPTIONS = ['ttl', 'ifVersion'] as const;
export const VERSION_OPTIONS = ['ifVersion'] as const;
export const TTL_OPTIONS = ['ttl'] as const;
export const LIST_OPTIONS = ['prefix', 'limit', 'after'] as const;
export const PREFIX_OPTIONS = ['prefix'] as const;
export const GET_OPTIONS = ['default'] as const;
export const NO_OPTIONS = [] as const;

/**
 * A namespace's `defaults`, kept as JSON text: every miss hands out a fresh copy, so a caller
 * that mutates what `get` returned cannot change the default for the next caller.
 */
export type KvDefaults = ReadonlyMap<string, string>;

/** Checks and encodes `defaults` once, when the namespace is declared. */
export function encodeDefaults(defaults: unknown, op: string): KvDefaults {
  const out = new Map<string, string>();
  if (defaults === undefined) return out;
  if (defaults === null || typeof defaults !== 'object' || Array.isArray(defaults)) {
    throw new StrataError('BAD_INPUT', `${op}: defaults must be an object of key -> value`, { op });
  }
  for (const [key, value] of Object.entries(defaults)) {
    checkKey(key, op);
    out.set(key, encodeJson(value));
  }
  return out;
}

/**
 * `get(k, { default })`: the default is handed out in place of a stored value, so it follows
 * the value rules too (README "Key-value namespaces"), as a namespace's `defaults` do. `NaN`,
 * `undefined` inside an object, a `Map` and the like are BAD_INPUT, whether or not the key
 * exists: a typo must not wait for the first miss to show. The default itself is returned,
 * never the encoded copy.
 */
export function checkDefault(value: unknown, op: string): void {
  // The common default (a number, a string, a plain object) passes without being encoded: this
  // runs on every get that passes one.
  if (value === undefined || isExactJson(value)) return;
  try {
    encodeJson(value);
  } catch (error) {
    if (!(error instanceof StrataError)) throw error;
    throw new StrataError('BAD_INPUT', `${op}: the default is not a value the store could hold: ${bareMessage(error)}`, {
      op,
      hint: error.hint ?? 'pass a default made of strings, finite numbers, booleans, null, arrays and plain objects',
      cause: error,
      ...(error.details === undefined ? {} : { details: error.details }),
    });
  }
}

export function checkVersion(version: unknown, op: string): void {
  if (version !== undefined && (!Number.isSafeInteger(version) || (version as number) < 0)) {
    throw new StrataError('BAD_INPUT', `${op}: ifVersion must be a non-negative integer`, { op });
  }
}

export function checkLimit(limit: unknown, op: string): void {
  if (limit !== undefined && (!Number.isSafeInteger(limit) || (limit as number) < 0)) {
    throw new StrataError('BAD_INPUT', `${op}: limit must be a non-negative integer`, { op });
  }
}

export { checkPrefix } from './codec/keys.js';
