import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Driver, StoredRecord, WriteOp } from '../drivers/driver.js';
import { asRead } from '../drivers/record-stamp.js';
import { StrataError } from '../errors.js';
import { parseJson } from '../codec/json.js';

/** The migrator lease: its own meta space, so restoring `meta.migrations` never touches it. */
export const LOCK_SPACE = 'meta.migrations-lock';
const KEY = 'lease';

interface LeaseValue {
  owner: string;
  process: string;
  until: number;
}

function readLease(text: string): LeaseValue | null {
  try {
    const v = parseJson(text) as Partial<LeaseValue> | null;
    return v && typeof v.owner === 'string' && typeof v.until === 'number' ? (v as LeaseValue) : null;
  } catch {
    return null; // a damaged lease is no lease: it is replaced
  }
}

/**
 * Whether the holder is a process of this machine that no longer exists: its lease is taken
 * over at once instead of after it expires (a SIGKILLed migrator need not cost `leaseTtl`).
 */
function deadOnThisHost(held: LeaseValue): boolean {
  const at = held.process.lastIndexOf(':');
  if (at === -1 || held.process.slice(0, at) !== hostname()) return false;
  const pid = Number(held.process.slice(at + 1));
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'ESRCH';
  }
}

/**
 * One migrator at a time across processes: a record claimed with a conditional write and
 * renewed every third of its lifetime while the run goes on. A holder that died stops
 * renewing it, and the lease is taken over once it has expired.
 *
 * A holder that stalled past its lifetime (an event loop blocked by a synchronous step) may
 * wake up after another process took the lease over and undid the stalled run. So every
 * write of a run goes through `exclusive`, which first renews the lease only if the record
 * is still exactly the one this process last wrote (each value is unique), and hands out a
 * `check` op on its version to commit in the same atomic batch: a stalled holder finds the
 * lease changed and stops with LOCKED, before writing anything. A restore brings back an
 * older copy of the record: ours (a failed run undoing itself) or, when a run recovers an
 * earlier run, that run's (its restore point was taken under its lease). `restoring`
 * accepts that copy while it runs and re-asserts the lease over it after. Accepting the
 * earlier run's copy does not weaken the fence: we held the lease just before the restore,
 * and that run's holder, if alive, renewed past the copy when it wrote its run record, so it
 * can never renew the copy and its next write stops with LOCKED.
 */
export class MigratorLease {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(6).toString('base64url')}`;
  readonly #driver: Driver;
  readonly #now: () => number;
  readonly #ttl: number;
  #timer: NodeJS.Timeout | undefined;
  #lost: StrataError | null = null;
  #seq = 0;
  /** The record as this process last wrote it (its text is unique: owner and a sequence number). */
  #held: { value: string; version: number; stamp?: number } | null = null;
  /** Claims, renewals and fenced writes run one at a time, so a renewal never moves the version under a fenced write. */
  #queue: Promise<unknown> = Promise.resolve();
  #restoring = false;
  /** While restoring: the owner of the lease record the restore point holds, if not ours. */
  #restoredOwner: string | null = null;
  /** Set when the lease was waited for: another process held it at first. */
  waited = false;

  constructor(driver: Driver, now: () => number, ttlMs: number) {
    this.#driver = driver;
    this.#now = now;
    this.#ttl = ttlMs;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Writes a new value of our lease over the version `expect`; `false` when another process wrote first. */
  async #write(over: StoredRecord | null, now: number): Promise<boolean> {
    const value = JSON.stringify({
      owner: this.owner,
      process: `${hostname()}:${process.pid}`,
      until: now + this.#ttl,
      seq: ++this.#seq,
    } satisfies LeaseValue & { seq: number });
    try {
      const [written] = await this.#driver.batch(
        [{ type: 'put', space: LOCK_SPACE, key: KEY, value, expiresAt: null, ...asRead(over) }],
        now,
      );
      this.#held = { value, version: written?.version ?? (over?.version ?? 0) + 1 };
      if (written?.stamp !== undefined) this.#held.stamp = written.stamp;
      return true;
    } catch (error) {
      // LOCKED: the holder is inside a step holding the SQLite write lock; wait as for a live lease.
      if (StrataError.is(error, 'CONFLICT') || StrataError.is(error, 'LOCKED')) return false;
      throw error;
    }
  }

  /**
   * Claims the lease if it is free, expired, held by a dead process of this machine, ours, or
   * (while restoring) the copy a restore brought back.
   */
  async #take(): Promise<boolean> {
    const now = this.#now();
    const stored = await this.#driver.get(LOCK_SPACE, KEY, now);
    const held = stored === null ? null : readLease(stored.value);
    const ours = held !== null && (held.owner === this.owner || (this.#restoring && held.owner === this.#restoredOwner));
    if (held !== null && !ours && held.until > now && !deadOnThisHost(held)) return false;
    return this.#write(stored, now);
  }

  /** Renews the lease only if its record is still the one we last wrote (or, while restoring, any of ours). */
  async #renew(): Promise<boolean> {
    if (this.#restoring) return this.#take();
    const now = this.#now();
    const stored = await this.#driver.get(LOCK_SPACE, KEY, now);
    if (stored === null || this.#held === null || stored.value !== this.#held.value) return false;
    return this.#write(stored, now);
  }

  /** Waits (polling) until the lease is ours; TIMEOUT after `waitMs`. Then keeps renewing it. */
  async acquire(waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (!(await this.#serial(() => this.#take()))) {
      this.waited = true;
      if (Date.now() >= deadline) {
        throw new StrataError('TIMEOUT', 'store.migrate: another process has been running migrations for too long', {
          op: 'store.migrate',
          hint: "wait for it to finish and run again, or wait longer: { wait: '30m' } (CLI: --wait 30m)",
        });
      }
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
    this.#timer = setInterval(
      () => {
        if (this.#lost !== null) return;
        this.#serial(() => this.#renew()).then(
          (ok) => {
            if (!ok) this.#lost ??= this.#lostError();
          },
          () => {}, // a failed renewal is retried at the next tick; the lease lasts 3 ticks
        );
      },
      Math.max(50, Math.floor(this.#ttl / 3)),
    );
    this.#timer.unref();
  }

  #lostError(): StrataError {
    return new StrataError('LOCKED', 'store.migrate: this process lost its migrator lease (it stalled past leaseTtl)', {
      op: 'store.migrate',
      hint: "run again; a migration that blocks the event loop (a long synchronous loop) should await between chunks of its work, or be run with a longer lease: { leaseTtl: '5m' } (store.migrate only: the CLI keeps the default, 30 s)",
      details: { lease: 'lost' },
    });
  }

  /** Whether `error` is this lease's "lost" error (the run must stop without touching the store). */
  isLost(error: unknown): boolean {
    return error !== null && error === this.#lost;
  }

  /** Throws LOCKED when another process took the lease over (this one stalled). */
  check(): void {
    if (this.#lost) throw this.#lost;
  }

  /**
   * Runs `fn` (a write of the run) with the lease renewed just before and no renewal during
   * it; `fence` is a `check` op on the lease's version for `fn` to put in its atomic batch.
   * LOCKED, writing nothing, when the lease is no longer this process's.
   */
  exclusive<T>(fn: (fence: WriteOp) => Promise<T>): Promise<T> {
    return this.#serial(async () => {
      this.check();
      if (!(await this.#renew())) throw (this.#lost ??= this.#lostError());
      // With the stamp: a lease taken over, released and taken again up to the same version
      // by others while this process stalled is not ours.
      return fn({ type: 'check', space: LOCK_SPACE, key: KEY, ...asRead(this.#held!) });
    });
  }

  /**
   * Runs `fn`, a restore of the store (which brings back an older copy of the lease record,
   * written by this lease or by `restoredOwner`'s), after checking the lease is still ours,
   * renewing it meanwhile and re-asserting it after.
   */
  async restoring<T>(fn: () => Promise<T>, restoredOwner?: string): Promise<T> {
    await this.exclusive(async () => {});
    this.#restoring = true;
    this.#restoredOwner = restoredOwner ?? null;
    try {
      const result = await fn();
      if (!(await this.#serial(() => this.#take()))) throw (this.#lost ??= this.#lostError());
      return result;
    } finally {
      this.#restoring = false;
      this.#restoredOwner = null;
    }
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.#serial(async () => {
      const stored = await this.#driver.get(LOCK_SPACE, KEY, this.#now());
      if (stored === null || this.#held === null || stored.value !== this.#held.value) return;
      await this.#driver
        .batch([{ type: 'delete', space: LOCK_SPACE, key: KEY, ...asRead(stored) }], this.#now(), { results: false })
        .catch(() => {}); // it expires on its own
    });
  }
}
