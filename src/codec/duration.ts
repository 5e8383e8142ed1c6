import { StrataError } from '../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const FORMAT = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;

/** A duration in ms: a number, or a string such as `'500ms' '30s' '10m' '12h' '7d' '2w'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd' | 'w'}`;

/**
 * Parses a duration to milliseconds. Hand-written (a dozen lines) rather than pulling in
 * `ms`, whose lenient grammar ("1 day", "1.5 hrs") would accept typos silently.
 */
export function parseDuration(input: unknown, what = 'duration'): number {
  if (typeof input === 'number') {
    if (Number.isFinite(input) && input > 0) return input;
  } else if (typeof input === 'string') {
    const match = FORMAT.exec(input.trim());
    if (match) {
      const ms = Number(match[1]) * UNITS[match[2]!]!;
      if (ms > 0) return ms;
    }
  }
  throw new StrataError('BAD_INPUT', `${what} ${JSON.stringify(input)} is not a positive duration`, {
    hint: "use milliseconds or a string like '500ms', '30s', '10m', '12h', '7d', '2w'",
  });
}
