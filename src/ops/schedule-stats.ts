import type { Driver } from '../drivers/driver.js';
import { CronCalendar } from './cron.js';
import { dropExpired, readJobs, type ScheduleRun } from './lease.js';

/** One scheduled job as the store records it, seen from any process (the CLI included). */
export interface ScheduleStats {
  name: string;
  /** The cron expression and time zone it was last scheduled with (`null`: local time). */
  cron: string;
  timezone: string | null;
  /** The latest slot claimed or skipped by any process (ISO), `null` before the first. */
  lastSlot: string | null;
  /** The next slot of its calendar after now (ISO), whether or not a process has it scheduled. */
  nextRun: string | null;
  /**
   * Runs in progress: their slot, process, start and lease expiry (ISO). Only live leases: a
   * run whose lease has lapsed (its process died or stalled) is listed in `runs` as
   * `abandoned` instead, as the next claim of the job will record it.
   */
  running: Array<{ slot: string; process: string; startedAt: string; leaseUntil: string }>;
  /**
   * The last outcomes, newest first: at most the job's `history`, plus the `abandoned` runs
   * of lapsed leases that no claim has recorded yet (the next claim keeps `history` of them).
   */
  runs: ScheduleRun[];
  /** The stored record is damaged; it is rewritten (its history lost) when the job next runs. */
  damaged?: true;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * `now` is the store's clock, for reading records; leases are judged by `Date.now()`, the
 * clock runners write them with (job-runner.ts). Nothing is written: a lapsed lease is shown
 * as the `abandoned` run the next claim records, whichever process makes it.
 */
export async function scheduleStats(driver: Driver, now: number): Promise<ScheduleStats[]> {
  const out: ScheduleStats[] = [];
  for (const [name, stored] of await readJobs(driver, now)) {
    if (stored === null) {
      out.push({ name, cron: '', timezone: null, lastSlot: null, nextRun: null, running: [], runs: [], damaged: true });
      continue;
    }
    // The job's `history` is not stored: every kept outcome stays in view.
    const record = dropExpired(stored, Date.now(), stored.runs.length + stored.running.length);
    out.push({
      name,
      cron: record.cron,
      timezone: record.timezone,
      lastSlot: record.lastSlot === null ? null : iso(record.lastSlot),
      nextRun: nextOf(record.cron, record.timezone),
      running: record.running.map((l) => ({
        slot: iso(l.slot),
        process: l.process,
        startedAt: iso(l.startedAt),
        leaseUntil: iso(l.leaseUntil),
      })),
      runs: record.runs,
    });
  }
  return out;
}

function nextOf(cron: string, timezone: string | null): string | null {
  try {
    const next = new CronCalendar(cron, timezone ?? undefined, 'stats').next(Date.now());
    return next === null ? null : iso(next);
  } catch {
    return null; // a job whose calendar has no future slot, or a time zone this machine lacks
  }
}
