import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Driver } from '../drivers/driver.js';

/**
 * Records removed per driver call. Each call is one atomic step that holds the event loop
 * (and, on SQLite, the write lock) while it runs; a few thousand rows keep that to a few
 * milliseconds, so a million expired records never stall reads or other writers.
 */
export const SWEEP_CHUNK = 2_000;

/**
 * Physically removes expired records in bounded chunks, yielding to the event loop between
 * them, until none is left or the store closes. One sweep at a time: a sweep asked for while
 * one runs joins it. Expired records are invisible to reads either way; this only frees space.
 */
export class Sweeper {
  readonly #driver: Driver;
  readonly #now: () => number;
  readonly #stopped: () => boolean;
  #running: Promise<number> | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(driver: Driver, now: () => number, stopped: () => boolean) {
    this.#driver = driver;
    this.#now = now;
    this.#stopped = stopped;
  }

  /** Sweeps every `intervalMs` in the background (the timer does not keep the process alive). */
  every(intervalMs: number): void {
    this.#timer = setInterval(() => {
      this.sweep().catch(() => {
        // Expired records stay invisible either way; the next tick tries again.
      });
    }, intervalMs);
    this.#timer.unref();
  }

  /** Removes every expired record; resolves with how many this sweep removed. */
  sweep(): Promise<number> {
    if (this.#running !== null) return this.#running;
    const running = this.#run().finally(() => {
      if (this.#running === running) this.#running = null;
    });
    this.#running = running;
    return running;
  }

  async #run(): Promise<number> {
    let removed = 0;
    while (!this.#stopped()) {
      const n = await this.#driver.purgeExpired(this.#now(), SWEEP_CHUNK);
      removed += n;
      if (n < SWEEP_CHUNK) break;
      await nextTurn();
    }
    return removed;
  }

  /** Stops the timer and waits for a sweep in progress to finish its chunk. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => {});
  }
}
