import { StrataError } from '../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const FORMAT = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;

/** The last instant a `Date` can hold, in epoch ms (+275760-09-13): no expiry may be later. */
export const MAX_TIME_MS = 8.64e15;

/**
 * The epoch ms of `text` when it is exactly the text a `Date` is stored as (its
 * `toISOString()`), else null: not any text `Date.parse` happens to read.
 */
export function storedDateMs(text: string): number | null {
  const at = Date.parse(text);
  return !Number.isNaN(at) && new Date(at).toISOString() === text ? at : null;
}

/**
 * The highest record version an import or an image may bring in: 2^52 leaves room for 2^52
 * more writes, each +1, before versions would stop being exact integers.
 */
export const MAX_VERSION = 2 ** 52;

/** The longest delay `setTimeout`/`setInterval` honour; Node turns longer ones into 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration in ms: a number, or a string such as `'500ms' '30s' '10m' '12h' '7d' '2w'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd' | 'w'}`;

const FORMATS = "use milliseconds or a string like '500ms', '30s', '10m', '12h', '7d', '2w'";

/** The input as a message can show it: JSON.stringify would throw on a BigInt. */
function describe(input: unknown): string {
  if (typeof input === 'string') return JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}...` : input);
  if (typeof input === 'number') return String(input);
  return input === null ? 'null' : typeof input;
}

/**
 * Parses a duration to milliseconds: positive, finite and at most `max` (by default the whole
 * range of a Date, so that `now + duration` can still be one). Hand-written (a dozen lines)
 * rather than pulling in `ms`, whose lenient grammar ("1 day", "1.5 hrs") would accept typos.
 */
export function parseDuration(input: unknown, what = 'duration', max = MAX_TIME_MS): number {
  let ms = Number.NaN;
  if (typeof input === 'number') ms = input;
  else if (typeof input === 'string') {
    const match = FORMAT.exec(input.trim());
    if (match) ms = Number(match[1]) * UNITS[match[2]!]!;
  }
  if (Number.isFinite(ms) && ms > 0) {
    if (ms <= max) return ms;
    throw new StrataError('BAD_INPUT', `${what} ${describe(input)} is longer than the maximum, ${max} ms`, {
      hint: `use a ${what} of at most ${max} ms`,
      details: { max },
    });
  }
  throw new StrataError('BAD_INPUT', `${what} ${describe(input)} is not a positive duration`, { hint: FORMATS });
}

/**
 * The expiry (epoch ms, a whole number so that the Date read back is the same instant) of a
 * write made at `now` with a parsed ttl. BAD_INPUT when it would fall after MAX_TIME_MS,
 * where `new Date(expiresAt)` would be an Invalid Date.
 */
export function expiryFrom(now: number, ttlMs: number): number {
  if (!Number.isFinite(now)) {
    throw new StrataError('BAD_INPUT', `the clock returned ${now}, not epoch milliseconds`, {
      hint: 'pass openStore a `clock` that returns epoch milliseconds, as Date.now does',
    });
  }
  const at = Math.ceil(now + ttlMs);
  if (at <= MAX_TIME_MS) return at;
  const max = Math.max(0, Math.floor(MAX_TIME_MS - now));
  throw new StrataError('BAD_INPUT', `ttl ${ttlMs} ms would expire after the last time a Date can hold (${MAX_TIME_MS} ms)`, {
    hint: `use a ttl of at most ${max} ms from now`,
    details: { max },
  });
}
