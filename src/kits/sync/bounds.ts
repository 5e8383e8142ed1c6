// A cursor value as a safe integer: numbers as they are, dates as epoch milliseconds, so
// ranges of dates and ranges of ids are one kind of thing.
import { StrataError } from '../../index.js';

/** A cursor value: a safe integer, a `Date`, or an ISO 8601 date string (e.g. a `created_at`). */
export type Bound = number | Date | string;

// A date string with at least a full date; `Date.parse` alone would accept '1' or 'May 5'.
// A time of day needs its zone (Z or an offset): without one, JavaScript reads it in the
// machine's local time zone, so two processes (or two machines) would disagree on the value.
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function isoProblem(value: string): string | null {
  const m = ISO_DATE.exec(value);
  if (m === null) return 'not an ISO 8601 date';
  const [, y, mo, d, h, mi, s, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return 'a day that does not exist';
  if (h !== undefined) {
    const hour = Number(h);
    const minute = Number(mi);
    const second = s === undefined ? 0 : Number(s);
    const endOfDay = hour === 24 && minute === 0 && second === 0;
    if (!endOfDay && (hour > 23 || minute > 59 || second > 59)) return 'a time that does not exist';
    if (zone === undefined) return 'a time without a time zone';
  }
  return null;
}

export function toBound(value: unknown, what: string, op: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (value instanceof Date && Number.isFinite(value.getTime())) return value.getTime();
  let why = '';
  if (typeof value === 'string') {
    const problem = isoProblem(value);
    if (problem === null) {
      const ms = Date.parse(value);
      if (Number.isFinite(ms)) return ms;
    } else if (problem !== 'not an ISO 8601 date') why = ` (${problem})`;
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
