import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Driver } from '../drivers/driver.js';
import { StrataError, withOp } from '../errors.js';
import { checkOptions } from '../codec/options.js';
import { checkName } from '../codec/keys.js';
import { parseDuration, type Duration } from '../codec/duration.js';
import { CronCalendar } from './cron.js';
import { SCHEDULES_SPACE } from './lease.js';
import { JobRunner, type RunnerSettings } from './job-runner.js';

export interface ScheduleOptions {
  /** IANA time zone the cron fields are read in (DST handled by croner). @default the process's local time zone */
  timezone?: string;
  /**
   * No two runs of this job at once, in any process: a slot that comes while a run is still in
   * progress (its lease is live) is skipped and recorded as `skipped`. @default true
   */
  protect?: boolean;
  /**
   * A slot that passed while no process had the job scheduled (the app was down): `'once'` runs
   * the latest such slot once, right after `schedule()`; `'skip'` waits for the next slot.
   * @default 'skip'
   */
  missed?: 'skip' | 'once';
  /**
   * How long a run holds its slot without renewing it. The runner renews it every third of this
   * while the function runs; a run whose lease lapses (its process died) is `abandoned`.
   * @default '1m'
   */
  leaseTtl?: Duration;
  /** How many outcomes to keep per job (1-100). @default 20 */
  history?: number;
  /**
   * Called when the scheduler itself could not claim or record a slot (the store failed, say
   * LOCKED or CORRUPT). Failures of the job function are recorded as outcomes, not reported here.
   * @default emits a process warning
   */
  onError?: (error: StrataError) => void;
}

/** What a job function is told about its run. */
export interface ScheduleContext {
  /** The job's name. */
  name: string;
  /** The slot being run: the scheduled time, the same in every process. */
  slot: Date;
  /** Aborted when `store.close()` begins: stop early if you can (store calls then fail with CLOSED). */
  signal: AbortSignal;
}

/** A scheduled job function: gets the store and its run's context. Its resolved value is ignored. */
export type ScheduledFunction<S> = (store: S, context: ScheduleContext) => unknown;

/** The handle `store.schedule()` returns. */
export interface ScheduledJob {
  readonly name: string;
  readonly cron: string;
  /** The next slot this process will try to run, or `null` once stopped (or when none is left). */
  nextRun(): Date | null;
  /** Whether a run of this job is in progress in this process. */
  readonly running: boolean;
  /** Stops scheduling the job here; resolves once a run in progress has finished and been recorded. */
  stop(): Promise<void>;
}

const OPTIONS = ['timezone', 'protect', 'missed', 'leaseTtl', 'history', 'onError'] as const;
const OP = 'store.schedule';

/**
 * The clock of each store a Scheduler was made for (its `openStore({ clock })`), so that the
 * built-in jobs (jobs.retain) judge ages by the same clock that wrote the documents'
 * timestamps and decides expiry. Every Store makes its Scheduler when it is constructed.
 */
const clocks = new WeakMap<object, () => number>();

/** The clock of `store` (see `clocks`); `Date.now` for anything that is not a Store. */
export function storeClock(store: unknown): () => number {
  return (typeof store === 'object' && store !== null ? clocks.get(store) : undefined) ?? Date.now;
}

/** Every job scheduled through one store; `close()` stops them all. */
export class Scheduler<S> {
  readonly #jobs = new Map<string, JobRunner<S>>();
  readonly #driver: Driver;
  readonly #now: () => number;
  readonly #store: S;
  /** `host:pid`, recorded with each run. */
  readonly #process = `${hostname()}:${process.pid}`;
  /** Tells this store's leases apart from those of another store open in the same process. */
  readonly #owner = `${this.#process}:${randomBytes(6).toString('base64url')}`;
  #ready: Promise<void> | null = null;

  constructor(driver: Driver, now: () => number, store: S) {
    this.#driver = driver;
    this.#now = now;
    this.#store = store;
    if (typeof store === 'object' && store !== null) clocks.set(store, now);
  }

  schedule(cron: string, name: string, fn: ScheduledFunction<S>, options: ScheduleOptions = {}): ScheduledJob {
    checkOptions(options, OPTIONS, OP);
    checkName(name, 'schedule', OP);
    if (typeof fn !== 'function') {
      throw new StrataError('BAD_INPUT', `${OP}: the job "${name}" needs a function, got ${fn === null ? 'null' : typeof fn}`, {
        op: OP,
        hint: "pass (store) => ..., e.g. store.schedule('0 3 * * *', 'prune', (s) => s.collection('events').dedupe())",
      });
    }
    const settings = settingsOf(cron, name, options);
    if (this.#jobs.has(name)) {
      throw new StrataError('BAD_INPUT', `${OP}: a job named "${name}" is already scheduled on this store`, {
        op: OP,
        hint: 'give each job its own name, or stop() the first one before scheduling it again',
        details: { name },
      });
    }
    const runner = new JobRunner<S>({
      settings,
      fn,
      driver: this.#driver,
      now: this.#now,
      store: this.#store,
      owner: this.#owner,
      process: this.#process,
      ready: () => this.#ensureSpace(),
      forget: () => {
        if (this.#jobs.get(name) === runner) this.#jobs.delete(name);
      },
    });
    this.#jobs.set(name, runner);
    runner.start();
    return runner.handle;
  }

  /** Declares the schedules space once; a failed attempt is tried again at the next slot. */
  #ensureSpace(): Promise<void> {
    this.#ready ??= this.#driver.ensureSpace(SCHEDULES_SPACE, {}).catch((error: unknown) => {
      this.#ready = null;
      throw error;
    });
    return this.#ready;
  }

  /** Stops every job and aborts runs in progress; resolves once each has been recorded. */
  async close(): Promise<void> {
    await Promise.all([...this.#jobs.values()].map((job) => job.stop(true)));
  }
}

function settingsOf(cron: string, name: string, options: ScheduleOptions): RunnerSettings {
  const calendar = new CronCalendar(cron, options.timezone, OP);
  const { protect = true, missed = 'skip', history = 20, onError } = options;
  if (typeof protect !== 'boolean') {
    throw new StrataError('BAD_INPUT', `${OP}: protect must be a boolean`, { op: OP, hint: 'pass true or false' });
  }
  if (missed !== 'skip' && missed !== 'once') {
    throw new StrataError('BAD_INPUT', `${OP}: missed must be 'skip' or 'once', got ${JSON.stringify(missed)}`, {
      op: OP,
      hint: "'skip' waits for the next slot; 'once' runs a slot missed while the app was down once",
    });
  }
  if (!Number.isInteger(history) || history < 1 || history > 100) {
    throw new StrataError('BAD_INPUT', `${OP}: history must be an integer from 1 to 100, got ${String(history)}`, {
      op: OP,
      hint: 'the number of outcomes kept per job, e.g. history: 20 (the default)',
    });
  }
  if (onError !== undefined && typeof onError !== 'function') {
    throw new StrataError('BAD_INPUT', `${OP}: onError must be a function`, {
      op: OP,
      hint: 'pass (error) => ..., or leave it out for a process warning',
    });
  }
  // Renewed every third of it: a timer of at least a second, at most a day.
  // Only an absent option means the default: `leaseTtl: null` is a mistake, as for every other option.
  let leaseMs: number;
  try {
    leaseMs = parseDuration(options.leaseTtl === undefined ? '1m' : options.leaseTtl, 'leaseTtl', 86_400_000);
  } catch (error) {
    throw withOp(error, OP); // the shared duration parser names no call
  }
  if (leaseMs < 3_000) {
    throw new StrataError('BAD_INPUT', `${OP}: leaseTtl must be at least 3 s, got ${leaseMs} ms`, {
      op: OP,
      hint: "the lease is renewed every third of leaseTtl; use '30s' or more for jobs that write to a busy store",
    });
  }
  return {
    name,
    cron,
    timezone: options.timezone ?? null,
    calendar,
    protect,
    missed,
    leaseMs,
    history,
    report:
      onError ??
      ((error) => process.emitWarning(`schedule "${name}": ${error.message}`, { code: 'STRATA_SCHEDULE', detail: error.hint })),
  };
}
