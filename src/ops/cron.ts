import { Cron } from 'croner';
import { StrataError } from '../errors.js';

const CRON_HINT =
  "use 5 fields (minute hour day-of-month month day-of-week, e.g. '0 3 * * *') or 6 with seconds first (e.g. '*/10 * * * * *')";

/**
 * A cron expression read by croner (fields, names, `L`, `W`, `#`, nicknames such as
 * `@daily`, an optional seconds field, a time zone and its DST rules). Used only as a
 * calendar: the scheduler runs its own timer, because croner's callback is told the wall
 * time it fired at, and every process must agree on the slot, the scheduled time.
 */
export class CronCalendar {
  readonly #cron: Cron;

  constructor(pattern: unknown, timezone: string | undefined, op: string) {
    if (typeof pattern !== 'string' || pattern.trim() === '') {
      throw new StrataError('BAD_INPUT', `${op}: the cron expression must be a non-empty string`, { op, hint: CRON_HINT });
    }
    if (timezone !== undefined) checkTimezone(timezone, op);
    try {
      this.#cron = new Cron(pattern, { timezone, paused: true });
    } catch (error) {
      throw new StrataError('BAD_INPUT', `${op}: ${JSON.stringify(pattern)} is not a valid cron expression`, {
        op,
        hint: CRON_HINT,
        cause: error,
      });
    }
    // croner also takes an ISO date for a one-off run; a schedule repeats.
    if (this.#cron.getPattern() === undefined) {
      throw new StrataError('BAD_INPUT', `${op}: ${JSON.stringify(pattern)} is a date, not a cron expression`, {
        op,
        hint: CRON_HINT,
      });
    }
    if (this.next(Date.now()) === null) {
      throw new StrataError('BAD_INPUT', `${op}: ${JSON.stringify(pattern)} never fires again`, { op, hint: CRON_HINT });
    }
  }

  /** The first slot strictly after `at` (epoch ms), or `null` when there is none. */
  next(at: number): number | null {
    return this.#cron.nextRun(new Date(at))?.getTime() ?? null;
  }

  /** The latest slot at or before `at`, or `null`. */
  latest(at: number): number | null {
    return this.#cron.previousRuns(1, new Date(at + 1))[0]?.getTime() ?? null;
  }
}

function checkTimezone(timezone: unknown, op: string): void {
  try {
    if (typeof timezone !== 'string' || timezone === '') throw new Error('not a string');
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new StrataError('BAD_INPUT', `${op}: timezone ${JSON.stringify(timezone)} is not a known IANA time zone`, {
      op,
      hint: "use a name such as 'UTC', 'Europe/Paris' or 'America/New_York', or leave it out for the process's local time",
    });
  }
}
