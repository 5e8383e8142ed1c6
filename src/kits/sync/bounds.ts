// A cursor value as a safe integer: numbers as they are, dates as epoch milliseconds, so
// ranges of dates and ranges of ids are one kind of thing.
import { StrataError } from '../../index.js';

/** A cursor value: a safe integer, a `Date`, or an ISO 8601 date string (e.g. a `created_at`). */
export type Bound = number | Date | string;

// A date string with at least a full date; `Date.parse` alone would accept '1' or 'May 5'.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

export function toBound(value: unknown, what: string, op: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (value instanceof Date && Number.isFinite(value.getTime())) return value.getTime();
  if (typeof value === 'string' && ISO_DATE.test(value)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  const shown =
    typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value === 'number' ? String(value) : typeof value;
  throw new StrataError(
    'BAD_INPUT',
    `${op}: ${what} must be a safe integer, a valid Date or an ISO 8601 date string, not ${shown}`,
    {
      op,
      hint: "pass epoch milliseconds, a Date, or a string like '2024-01-01T00:00:00Z'",
    },
  );
}
