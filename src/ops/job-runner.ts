import { AsyncLocalStorage } from 'node:async_hooks';
import { types } from 'node:util';
import type { Driver } from '../drivers/driver.js';
import { StrataError, withOp } from '../errors.js';
import type { CronCalendar } from './cron.js';
import { dropExpired, updateJob, withRun, type JobRecord, type Lease, type ScheduleRun } from './lease.js';
import type { ScheduledFunction, ScheduledJob } from './schedule.js';

export interface RunnerSettings {
  name: string;
  cron: string;
  timezone: string | null;
  calendar: CronCalendar;
  protect: boolean;
  missed: 'skip' | 'once';
  leaseMs: number;
  history: number;
  report: (error: StrataError) => void;
}

export interface RunnerParts<S> {
  settings: RunnerSettings;
  fn: ScheduledFunction<S>;
  driver: Driver;
  now: () => number;
  store: S;
  /** This store's lease owner id; `process` is the `host:pid` recorded with runs. */
  owner: string;
  process: string;
  /** Resolves once the schedules space exists. */
  ready: () => Promise<void>;
  /** Called once stopped, so the name can be scheduled again. */
  forget: () => void;
}

/** Timers longer than this are re-armed in steps, so a clock change or a sleep is noticed. */
const MAX_WAIT_MS = 30_000;
const MAX_ERROR_CHARS = 500;

const iso = (ms: number): string => new Date(ms).toISOString();

/** The runner whose job function is running in the current async context. */
const insideRun = new AsyncLocalStorage<object>();

/**
 * One scheduled job in one process: fires at each slot of its calendar, claims the slot in the
 * job record (see lease.ts) and runs the function only when the claim wins, renewing its lease
 * while it runs, then records the outcome.
 */
export class JobRunner<S> {
  readonly handle: ScheduledJob;
  readonly #p: RunnerParts<S>;
  readonly #process: string;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | null = null;
  #target: number | null = null;
  #active = 0;
  #stopped = false;

  constructor(parts: RunnerParts<S>) {
    this.#p = parts;
    this.#process = parts.process;
    this.handle = new JobHandle(
      parts.settings,
      () => (this.#stopped ? null : this.#target),
      () => this.#active > 0,
      () => this.stop(false),
    );
  }

  start(): void {
    this.#arm(Date.now());
    this.#track(this.#register());
  }

  /**
   * Stops the timer; `abort` (store.close) also aborts the signal of a run in progress. Called
   * from inside a run of this job (the function stops its job or closes its store), it does not
   * wait for the runs in progress: that run cannot finish before this call does.
   */
  async stop(abort: boolean): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (abort) this.#abort.abort();
    if (insideRun.getStore() !== this) while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
    this.#p.forget();
  }

  #arm(from: number): void {
    this.#target = this.#p.settings.calendar.next(from);
    if (this.#target !== null && !this.#stopped) this.#wait();
  }

  #wait(): void {
    const delay = Math.min(Math.max(this.#target! - Date.now(), 0), MAX_WAIT_MS);
    // Not unref'd: a process with a scheduled job stays up for it, until stop() or store.close().
    this.#timer = setTimeout(() => this.#tick(), delay);
  }

  #tick(): void {
    this.#timer = null;
    if (this.#stopped || this.#target === null) return;
    const now = Date.now();
    if (now < this.#target) return this.#wait();
    // Fired late (a stalled event loop, a machine that slept): the slots passed meanwhile
    // fold into the latest one, run once, rather than a burst of catch-up runs.
    const slot = Math.max(this.#target, this.#p.settings.calendar.latest(now) ?? this.#target);
    this.#track(this.#runSlot(slot));
    this.#arm(slot);
  }

  #track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      // A run that closed its own store cannot record its outcome: its lease lapses (abandoned).
      if (this.#stopped && StrataError.is(error, 'CLOSED')) return;
      this.#p.settings.report(withOp(error, 'store.schedule', this.#p.driver.name));
    });
    this.#inFlight.add(tracked);
    void tracked.finally(() => this.#inFlight.delete(tracked));
  }

  #update<R>(change: (record: JobRecord | null) => { next?: JobRecord; result: R }): Promise<R> {
    return updateJob(this.#p.driver, this.#p.settings.name, this.#p.now, change, (damage) =>
      this.#p.settings.report(
        new StrataError('CORRUPT', `the record of job "${this.#p.settings.name}" was damaged; it is replaced, its history lost`, {
          op: 'store.schedule',
          cause: damage,
          hint: '`strata verify` checks the rest of the store',
        }),
      ),
    );
  }

  #fresh(at: number): JobRecord {
    const { cron, timezone } = this.#p.settings;
    return { cron, timezone, since: at, lastSlot: null, running: [], runs: [] };
  }

  /** Records the job (cron text for stats, first-seen time), then runs a missed slot with `missed: 'once'`. */
  async #register(): Promise<void> {
    await this.#p.ready();
    const { cron, timezone, missed, calendar } = this.#p.settings;
    const before = await this.#update((record) => {
      if (record === null) return { next: this.#fresh(Date.now()), result: null };
      const next = record.cron === cron && record.timezone === timezone ? undefined : { ...record, cron, timezone };
      return { next, result: record };
    });
    if (missed !== 'once' || before === null || this.#stopped) return;
    const latest = calendar.latest(Date.now());
    if (latest !== null && latest > Math.max(before.lastSlot ?? -Infinity, before.since)) await this.#runSlot(latest);
  }

  /** Claims `slot` and, when this process won it, runs the function and records the outcome. */
  async #runSlot(slot: number): Promise<void> {
    await this.#p.ready();
    const { protect, history, leaseMs } = this.#p.settings;
    const claim = await this.#update<'run' | 'taken' | 'skipped'>((stored) => {
      const at = Date.now();
      if (stored !== null && stored.lastSlot !== null && stored.lastSlot >= slot) return { result: 'taken' };
      const record = { ...dropExpired(stored ?? this.#fresh(at), at, history), lastSlot: slot };
      if (protect && record.running.length > 0) {
        const runs = withRun(record.runs, this.#skipped(slot, record.running[0]!), history);
        return { next: { ...record, runs }, result: 'skipped' };
      }
      const lease: Lease = { slot, owner: this.#p.owner, process: this.#process, startedAt: at, leaseUntil: at + leaseMs };
      return { next: { ...record, running: [...record.running, lease] }, result: 'run' };
    });
    if (claim !== 'run') return;

    const started = Date.now();
    this.#active++;
    const renew = setInterval(() => this.#track(this.#renew(slot)), leaseMs / 3);
    renew.unref();
    let failure: string | undefined;
    try {
      const context = { name: this.#p.settings.name, slot: new Date(slot), signal: this.#abort.signal };
      await insideRun.run(this, () => this.#p.fn(this.#p.store, context));
    } catch (error) {
      failure = describe(error);
    } finally {
      clearInterval(renew);
      this.#active--;
    }
    const finished = Date.now();
    const run: ScheduleRun = {
      slot: iso(slot),
      outcome: failure === undefined ? 'ok' : 'error',
      startedAt: iso(started),
      finishedAt: iso(finished),
      durationMs: finished - started,
      process: this.#process,
    };
    if (failure !== undefined) run.error = failure;
    await this.#update((stored) => {
      const record = stored ?? this.#fresh(started);
      const mine = (l: Lease): boolean => l.owner === this.#p.owner && l.slot === slot;
      // Another process may have declared this run abandoned while it was stalled: the real outcome replaces that.
      const runs = record.runs.filter((r) => !(r.slot === run.slot && r.outcome === 'abandoned' && r.process === this.#process));
      return {
        next: { ...record, running: record.running.filter((l) => !mine(l)), runs: withRun(runs, run, history) },
        result: undefined,
      };
    });
  }

  async #renew(slot: number): Promise<void> {
    await this.#update((record) => {
      const lease = record?.running.find((l) => l.owner === this.#p.owner && l.slot === slot);
      if (record === null || lease === undefined) return { result: undefined };
      const leaseUntil = Date.now() + this.#p.settings.leaseMs;
      return {
        next: { ...record, running: record.running.map((l) => (l === lease ? { ...l, leaseUntil } : l)) },
        result: undefined,
      };
    });
  }

  #skipped(slot: number, blocking: Lease): ScheduleRun {
    return {
      slot: iso(slot),
      outcome: 'skipped',
      startedAt: null,
      finishedAt: null,
      durationMs: null,
      error: `the run of ${iso(blocking.slot)} (${blocking.process}) was still in progress (protect)`,
      process: this.#process,
    };
  }
}

/** The public face of a runner: what `store.schedule()` returns. */
class JobHandle implements ScheduledJob {
  readonly name: string;
  readonly cron: string;
  readonly #next: () => number | null;
  readonly #busy: () => boolean;
  readonly #stop: () => Promise<void>;

  constructor(settings: RunnerSettings, next: () => number | null, busy: () => boolean, stop: () => Promise<void>) {
    this.name = settings.name;
    this.cron = settings.cron;
    this.#next = next;
    this.#busy = busy;
    this.#stop = stop;
  }

  nextRun(): Date | null {
    const next = this.#next();
    return next === null ? null : new Date(next);
  }

  get running(): boolean {
    return this.#busy();
  }

  stop(): Promise<void> {
    return this.#stop();
  }
}

/** What a failed run leaves in the record: the error's message (its code for a StrataError), cut short. */
function describe(error: unknown): string {
  let text: string;
  try {
    text = StrataError.is(error)
      ? `${error.code}: ${error.message}`
      : // isNativeError: an Error from another realm (a vm context, a worker's structured clone) too.
        error instanceof Error || types.isNativeError(error)
        ? String((error as Error).message) || String((error as Error).name)
        : `non-Error thrown: ${typeof error}`;
  } catch {
    // A message or name getter that throws: the run is still recorded.
    text = 'an error whose message could not be read';
  }
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
}
