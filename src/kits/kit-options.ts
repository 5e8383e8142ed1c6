// Option checks both kits take the same way: the store's own unknown-option check, whole
// numbers within bounds, functions, and the clock every time-based decision is made by.
import { StrataError } from '../index.js';
import { checkOptions } from '../codec/options.js';

/** Refuses an options object with a property the call does not know (the store's own check). */
export const checkKnown = checkOptions;

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
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be a function`, { op, details: { option: what } });
}

/** The latest time a clock may say: a Date's limit less ten years (the longest kit duration). */
const LATEST_CLOCK_MS = 8.64e15 - 3650 * 86_400_000;

/**
 * The clock a kit's time-based decisions (expiry, `updatedAt` stamps) are made by. The store
 * has its own (`openStore({ clock })`) for its TTL: pass both the same function in tests.
 */
export function clockOption(value: unknown, op: string): () => number {
  if (value === undefined) return Date.now;
  if (typeof value !== 'function') {
    throw new StrataError('BAD_INPUT', `${op}: clock must be a function returning epoch milliseconds`, {
      op,
      details: { option: 'clock' },
    });
  }
  const clock = value as () => unknown;
  return () => {
    const now = clock();
    // A time a Date can hold, with room for the longest duration after it (kit expiries).
    if (typeof now === 'number' && Number.isFinite(now) && Math.abs(now) <= LATEST_CLOCK_MS) return now;
    throw new StrataError(
      'BAD_INPUT',
      `${op}: the clock returned ${typeof now === 'number' ? now : typeof now}, not epoch milliseconds`,
      {
        op,
        hint: 'pass a clock that returns epoch milliseconds, as Date.now does',
      },
    );
  };
}
