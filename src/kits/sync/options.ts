// Option checks of the sync kit: the store's own unknown-option check, plus the few shapes
// the kit takes (names, a batch size, functions).
import { StrataError } from '../../index.js';
import { checkOptions } from '../../codec/options.js';

export const checkKnown = checkOptions;

/** A stream, namespace or item name: a non-empty, well-formed string of at most 512 characters. */
export function checkName(value: unknown, what: string, op: string): string {
  if (typeof value === 'string' && value.length > 0 && value.length <= 512 && value.isWellFormed()) return value;
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be a non-empty string of at most 512 characters`, {
    op,
    hint: `pass ${what} as well-formed text`,
  });
}

export function intOption(value: unknown, fallback: number, what: string, op: string, min: number, max: number): number {
  const n = value === undefined ? fallback : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) return n;
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be a whole number from ${min} to ${max}`, {
    op,
    hint: `pass ${what} between ${min} and ${max}, or leave it out for ${fallback}`,
    details: { option: what },
  });
}

export function functionOption<F>(value: unknown, what: string, op: string): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as F;
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be a function`, { op, details: { option: what } });
}

/** The clock `updatedAt` is stamped with: epoch ms. */
export function clockOption(value: unknown, op: string): () => number {
  const clock = functionOption<() => unknown>(value, 'clock', op);
  if (clock === undefined) return Date.now;
  return () => {
    const now = clock();
    if (typeof now === 'number' && Number.isFinite(now)) return now;
    throw new StrataError('BAD_INPUT', `${op}: the clock must return epoch milliseconds`, {
      op,
      hint: 'pass a clock that returns a number, as Date.now does',
    });
  };
}
