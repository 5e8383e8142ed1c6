import { StrataError } from './errors.js';

/**
 * Calls a caller's clock. Its throw is the caller's mistake, not the store's: left alone it
 * would reach `withOp` and be reported as a backend failure (UNAVAILABLE).
 */
export function readClock(clock: () => unknown, op?: string): unknown {
  try {
    return clock();
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new StrataError('BAD_INPUT', `${prefix(op)}the clock threw: ${why}`, {
      ...(op === undefined ? {} : { op }),
      cause,
      hint: 'pass a clock that returns epoch milliseconds without throwing, as Date.now does',
      details: { option: 'clock' },
    });
  }
}

/** `now` when it is epoch milliseconds no further from 1970 than `latest`, else BAD_INPUT. */
export function checkedTime(now: unknown, latest: number, op?: string): number {
  if (typeof now === 'number' && Number.isFinite(now) && Math.abs(now) <= latest) return now;
  throw new StrataError(
    'BAD_INPUT',
    `${prefix(op)}the clock returned ${typeof now === 'number' ? now : typeof now}, not epoch milliseconds`,
    {
      ...(op === undefined ? {} : { op }),
      hint: 'pass a clock that returns epoch milliseconds, as Date.now does',
      details: { option: 'clock' },
    },
  );
}

const prefix = (op: string | undefined): string => (op === undefined ? '' : `${op}: `);
