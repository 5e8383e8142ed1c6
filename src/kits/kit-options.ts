// Option checks both kits take the same way: the store they are built on, the store's own
// unknown-option check, whole numbers within bounds, functions, and the clock every
// time-based decision is made by.
import { StrataError, type Store } from '../index.js';
import { checkOptions } from '../codec/options.js';
import { checkedTime, readClock } from '../clock.js';

/**
 * The store a kit piece is built on. Checked for the three calls the kits make, so a wrong
 * argument (`null`, a collection, an options object, a transaction handle, which has no
 * `transaction`) is BAD_INPUT here and not a TypeError at the first use.
 */
export function checkStore(store: unknown, op: string): Store {
  const s = store as Partial<Record<'kv' | 'collection' | 'transaction', unknown>> | null;
  if (
    s !== null &&
    typeof s === 'object' &&
    typeof s.kv === 'function' &&
    typeof s.collection === 'function' &&
    typeof s.transaction === 'function'
  )
    return store as Store;
  throw new StrataError('BAD_INPUT', `${op}: the first argument must be a store`, {
    op,
    hint: 'pass the store that openStore() returned',
  });
}

/**
 * Refuses an options object with a property the call does not know (the store's own check).
 * The store's check says nothing about what to pass instead of a non-object; this adds it.
 */
export function checkKnown(options: unknown, known: readonly string[], op: string): void {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new StrataError('BAD_INPUT', `${op}: options must be an object`, {
      op,
      hint: known.length === 0 ? `${op} takes no options: leave them out` : `pass an object with some of: ${known.join(', ')}`,
    });
  }
  checkOptions(options, known, op);
}

/** A whole-number option within [min, max]. */
export function intOption(value: unknown, fallback: number, what: string, op: string, min: number, max: number): number {
  const n = value === undefined ? fallback : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) return n;
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be a whole number from ${min} to ${max}`, {
    op,
    hint: `pass ${what} between ${min} and ${max}, or leave it out for ${fallback}`,
    details: { option: what },
  });
}

/** A function option, or `undefined` when left out. */
export function functionOption<F>(value: unknown, what: string, op: string): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as F;
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be a function`, {
    op,
    hint: `pass ${what} as a function, or leave it out`,
    details: { option: what },
  });
}

/** The latest time a clock may say: a Date's limit less ten years (the longest kit duration). */
const LATEST_CLOCK_MS = 8.64e15 - 3650 * 86_400_000;

/**
 * The clock a kit's time-based decisions (expiry, `updatedAt` stamps) are made by. The store
 * has its own (`openStore({ clock })`) for its TTL: pass both the same function in tests.
 * The returned function takes the op of the call that asks the time (the constructor's op
 * when left out), so a bad clock is reported against the call it broke.
 */
export function clockOption(value: unknown, op: string): (callOp?: string) => number {
  if (value === undefined) return Date.now;
  if (typeof value !== 'function') {
    throw new StrataError('BAD_INPUT', `${op}: clock must be a function returning epoch milliseconds`, {
      op,
      hint: 'pass a clock that returns epoch milliseconds, as Date.now does, or leave it out',
      details: { option: 'clock' },
    });
  }
  const clock = value as () => unknown;
  return (callOp = op) => checkedTime(readClock(clock, callOp), LATEST_CLOCK_MS, callOp);
}
