// Option checks shared by the auth kit. The kit stores through the public surface of
// `stratadb` only; its option checks are the store's own (unknown options, the duration
// grammar), so the two cannot drift apart.
import { MAX_VALUE_DEPTH, StrataError, type Duration } from '../../index.js';
import { parseDuration } from '../../codec/duration.js';
import { cutRefusal, encodeJson } from '../../codec/json.js';
import { withOp } from '../../errors.js';

export { checkKnown, checkStore, clockOption, intOption } from '../kit-options.js';

/** Ten years: longer is a unit mistake (seconds given as days), and keeps `now + duration` a valid Date. */
export const MAX_DURATION_MS = 3650 * 86_400_000;

/** A duration option in ms: the store's grammar (`ms` number or `'500ms' '30s' '10m' '12h' '7d' '2w'`). */
export function durationOption(value: unknown, fallback: Duration, what: string, op: string): number {
  let ms = Number.NaN;
  try {
    ms = parseDuration(value === undefined ? fallback : value, what, MAX_DURATION_MS);
  } catch {
    // Reported below, with the kit's bounds and the call that was given it.
  }
  if (ms >= 1) return ms;
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be a duration from 1 ms to 3650 days`, {
    op,
    hint: "use milliseconds or a string like '500ms', '30s', '10m', '12h', '7d', '2w'",
    details: { option: what },
  });
}

export function booleanOption(value: unknown, fallback: boolean, what: string, op: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be true or false`, { op, details: { option: what } });
}

/** The namespace name; the store checks its characters when the kv handle is opened. */
export function namespaceOption(value: unknown, fallback: string, op: string): string {
  if (value === undefined) return fallback;
  if (typeof value === 'string') return value;
  throw new StrataError('BAD_INPUT', `${op}: namespace must be a string`, { op, details: { option: 'namespace' } });
}

/** A caller-supplied identifier (user id, subject, provider, account): non-empty, well-formed, bounded. */
export function checkIdentifier(value: unknown, what: string, op: string, max = 1024): string {
  if (typeof value === 'string' && value.length > 0 && value.length <= max && value.isWellFormed()) return value;
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be a non-empty string of at most ${max} characters`, {
    op,
    hint: `pass ${what} as well-formed text (no lone UTF-16 surrogates)`,
  });
}

/**
 * The JSON text of a value the kit encrypts before the store could check it (an OAuth state
 * payload). The kit's own rule comes first: plain JSON only (`checkJson`, which also refuses
 * a `Date`). Then the store's value encoder, the one every write goes through, checks and
 * serializes it: what it refuses (a lone UTF-16 surrogate in a string or in an object key,
 * and every other value rule) is refused here too, and the text sealed is what the store
 * would have written. Its refusal names no property: the payload is encrypted, and its keys
 * are part of it (as the store does for an encrypted value).
 */
export function sealableJson(value: unknown, what: string, op: string): string {
  checkJson(value, what, op);
  try {
    return encodeJson(value);
  } catch (error) {
    throw withOp(error instanceof StrataError ? cutRefusal(error, 0) : error, op);
  }
}

/**
 * Refuses what JSON cannot hold exactly (a function, `undefined`, BigInt, a non-finite number,
 * a cycle, a class instance), for a value the kit encrypts before the store could check it.
 */
function checkJson(value: unknown, what: string, op: string, depth = 0): void {
  const bad = (why: string): never => {
    throw new StrataError('BAD_INPUT', `${op}: ${what} ${why}`, {
      op,
      hint: 'pass plain JSON: objects, arrays, strings, finite numbers, booleans, null',
    });
  };
  // The store's own limit (at most MAX_VALUE_DEPTH arrays/objects deep); it also ends a cycle.
  if (depth >= MAX_VALUE_DEPTH && value !== null && typeof value === 'object') {
    bad(`is nested deeper than ${MAX_VALUE_DEPTH} levels (or holds a cycle)`);
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) bad('holds a non-finite number');
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) checkJson(item, what, op, depth + 1);
    return;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) bad('holds an object that is not a plain object');
    // The store refuses these keys in its own values: the payload is stored sealed, so check here.
    if (Object.hasOwn(value, '__proto__')) bad('holds a "__proto__" key (refused to prevent prototype pollution)');
    for (const item of Object.values(value)) checkJson(item, what, op, depth + 1);
    return;
  }
  bad(`holds a value JSON cannot store (${typeof value})`);
}
