// A cursor value as a safe integer: numbers as they are, dates as epoch milliseconds, so
// ranges of dates and ranges of ids are one kind of thing.
import { StrataError } from '../../index.js';
import { readIsoTime } from '../../codec/iso-time.js';

/** A cursor value: a safe integer, a `Date`, or an ISO 8601 date string (e.g. a `created_at`). */
export type Bound = number | Date | string;

export function toBound(value: unknown, what: string, op: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (value instanceof Date && Number.isFinite(value.getTime())) return value.getTime();
  let why = '';
  if (typeof value === 'string') {
    // A time of day needs its zone: without one, JavaScript reads it in the machine's local
    // time zone, so two processes (or two machines) would disagree on the value.
    const read = readIsoTime(value);
    if (typeof read !== 'string' && (!read.hasTime || read.zoned)) return read.ms;
    if (typeof read !== 'string') why = ' (a time without a time zone)';
    else if (read !== 'not an ISO 8601 date') why = ` (${read})`;
  }
  const shown =
    typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value === 'number' ? String(value) : typeof value;
  throw new StrataError(
    'BAD_INPUT',
    `${op}: ${what} must be a safe integer, a valid Date or an ISO 8601 date string, not ${shown}${why}`,
    {
      op,
      hint:
        why === ' (a time without a time zone)'
          ? "add the time zone to the string, e.g. '2024-01-01T00:00:00Z' (UTC) or '2024-01-01T00:00:00+02:00'"
          : "pass epoch milliseconds, a Date, or a string like '2024-01-01T00:00:00Z'",
    },
  );
}
