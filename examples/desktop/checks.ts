// The argument checks of the Kazari modules, in one place so each module reads as what it
// does. A refusal is BAD_INPUT naming the call and saying what to pass, never a TypeError or
// RangeError from deeper down.
import { StrataError } from '../../src/index.js';
import type { TimePeriod } from './domain.js';

/** The furthest a Date reaches from 1970, either way (ms). */
export const MAX_DATE_MS = 8.64e15;

export function bad(op: string, message: string, hint: string): StrataError {
  return new StrataError('BAD_INPUT', `${op}: ${message}`, { op, hint });
}

export function checkObject<T>(value: T, what: string, op: string, example: string): T {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value;
  throw bad(op, `${what} must be an object`, `pass ${example}`);
}

const isText = (value: unknown): boolean => typeof value === 'string' && value !== '';

export function checkText(value: unknown, what: string, op: string, example: string): string {
  if (isText(value)) return value as string;
  throw bad(op, `${what} must be a non-empty string`, `pass ${example}`);
}

/** Only the named keys: a misspelt option or filter is refused, not silently left at its default. */
export function checkKnown(value: object, known: readonly string[], op: string, kind = 'option'): void {
  for (const key of Object.keys(value))
    if (!known.includes(key)) throw bad(op, `unknown ${kind} "${key}"`, `known: ${known.join(', ')}`);
}

export const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 1;

/** A retention in ms: no longer than a Date reaches, so the cutoff it gives is a Date too. */
export const isRetention = (value: unknown): value is number => typeof value === 'number' && value >= 0 && value <= MAX_DATE_MS;

export function checkRetention(value: unknown, op: string): number {
  if (isRetention(value)) return value;
  throw bad(
    op,
    'the retention must be a number of milliseconds from 0 to 8.64e15 (what a Date reaches)',
    'pass e.g. 90 * 86_400_000 to keep 90 days',
  );
}

/** A valid Date, or BAD_INPUT naming the call. */
export function checkDate(value: unknown, what: string, op: string): Date {
  if (value instanceof Date && Number.isFinite(value.getTime())) return value;
  throw bad(op, `${what} must be a valid Date`, `pass ${what} as a Date, e.g. new Date()`);
}

/**
 * A period bound as stored times are written: ISO in the years 0000-9999, where string order
 * is time order (a '+010000-...' bound would sort before them all).
 */
export function periodBound(date: Date, op: string): string {
  const iso = Number.isFinite(date.getTime()) ? date.toISOString() : '';
  if (/^\d{4}-/.test(iso)) return iso;
  throw bad(
    op,
    'the period of that date reaches outside the years 0000-9999, where session times lie',
    'pass a date in those years',
  );
}

/** A period name, or BAD_INPUT. */
export function checkPeriod(value: unknown, op: string): TimePeriod {
  if (value === 'day' || value === 'week' || value === 'month') return value;
  throw bad(op, "the period must be 'day', 'week' or 'month'", "pass 'day', 'week' or 'month'");
}

/** openKazari's options: what each must be, an example, and the test. */
const KAZARI_OPTIONS: Record<string, [string, string, (value: unknown) => boolean]> = {
  keys: ['the keyring string', '"k1:<base64 of 32 random bytes>"', isText],
  env: ['a non-empty string', "'production'", isText],
  dataDir: ['a non-empty path', "'/path/to/kazari'", isText],
  now: ['a function returning a Date', '() => new Date()', (value) => typeof value === 'function'],
  recover: ['true or false', 'true', (value) => typeof value === 'boolean'],
  maxSessions: ['a whole number of 1 or more', '200_000', isCount],
  retention: ['a number of milliseconds from 0 to 8.64e15 (what a Date reaches)', '90 * 86_400_000', isRetention],
  backupsKept: ['a whole number of 1 or more', '24', isCount],
};

/** All of them before anything is opened: a bad one would otherwise fail an hour later, in the backup job. */
export function checkKazariOptions(options: unknown): void {
  const op = 'openKazari';
  const given = checkObject(options, 'options', op, '{ keys, dataDir?, env?, retention?, ... }') as Record<string, unknown>;
  checkKnown(given, Object.keys(KAZARI_OPTIONS), op);
  if (given.keys === undefined)
    throw bad(op, 'keys is required (secrets are stored encrypted)', `pass keys: ${KAZARI_OPTIONS.keys![1]}`);
  for (const [name, [what, example, ok]] of Object.entries(KAZARI_OPTIONS))
    if (given[name] !== undefined && !ok(given[name])) throw bad(op, `${name} must be ${what}`, `pass e.g. ${name}: ${example}`);
}
