import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Driver } from '../drivers/driver.js';
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
 */
export class MigratorLease {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(6).toString('base64url')}`;
  readonly #driver: Driver;
  readonly #now: () => number;
  readonly #ttl: number;
  #timer: NodeJS.Timeout | undefined;
  #lost: StrataError | null = null;
  /** Set when the lease was waited for: another process held it at first. */
  waited = false;

  constructor(driver: Driver, now: () => number, ttlMs: number) {
    this.#driver = driver;
    this.#now = now;
    this.#ttl = ttlMs;
  }

  /** Writes our lease if it is free, expired or already ours; `false` when another live holder has it. */
  async #claim(): Promise<boolean> {
    const now = this.#now();
    const stored = await this.#driver.get(LOCK_SPACE, KEY, now);
    const held = stored === null ? null : readLease(stored.value);
    if (held !== null && held.owner !== this.owner && held.until > now && !deadOnThisHost(held)) return false;
    const value: LeaseValue = { owner: this.owner, process: `${hostname()}:${process.pid}`, until: now + this.#ttl };
    try {
      await this.#driver.batch(
        [
          {
            type: 'put',
            space: LOCK_SPACE,
            key: KEY,
            value: JSON.stringify(value),
            expiresAt: null,
            expect: stored?.version ?? 0,
          },
        ],
        now,
        { results: false },
      );
      return true;
    } catch (error) {
      // LOCKED: the holder is inside a step holding the SQLite write lock; wait as for a live lease.
      if (StrataError.is(error, 'CONFLICT') || StrataError.is(error, 'LOCKED')) return false;
      throw error;
    }
  }

  /** Waits (polling) until the lease is ours; TIMEOUT after `waitMs`. Then keeps renewing it. */
  async acquire(waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (!(await this.#claim())) {
      this.waited = true;
      if (Date.now() >= deadline) {
        throw new StrataError('TIMEOUT', 'store.migrate: another process has been running migrations for too long', {
          op: 'store.migrate',
          hint: 'wait for it to finish and run again, or raise the wait option',
        });
      }
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
    this.#timer = setInterval(
      () => {
        this.#claim().then(
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
      hint: 'run again; raise leaseTtl if migrations block the event loop for long',
    });
  }

  /** Throws LOCKED when another process took the lease over (this one stalled). */
  check(): void {
    if (this.#lost) throw this.#lost;
  }

  /** Re-asserts the lease now (after a restore brought back an older copy of it). */
  async refresh(): Promise<void> {
    if (!(await this.#claim())) throw (this.#lost ??= this.#lostError());
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    const stored = await this.#driver.get(LOCK_SPACE, KEY, this.#now());
    if (stored === null || readLease(stored.value)?.owner !== this.owner) return;
    await this.#driver
      .batch([{ type: 'delete', space: LOCK_SPACE, key: KEY, expect: stored.version }], this.#now(), { results: false })
      .catch(() => {}); // it expires on its own
  }
}
