import { StrataError } from '../errors.js';
import type { ChangeEvent } from './driver.js';

export function closedError(driver: string): StrataError {
  return new StrataError('CLOSED', `the ${driver} store is closed`, { driver, hint: 'open the store again with openStore()' });
}

/** Fan-out of change events to listeners; a throwing listener cannot break a write. */
export class ChangeHub {
  readonly #listeners = new Set<(event: ChangeEvent) => void>();

  get size(): number {
    return this.#listeners.size;
  }

  add(listener: (event: ChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: ChangeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}

/** `purgeExpired`'s `limit`: absent (no bound) or a positive integer. */
export function checkPurgeLimit(limit: number | undefined, driver: string): void {
  if (limit === undefined || (Number.isSafeInteger(limit) && limit > 0)) return;
  throw new StrataError('BAD_INPUT', `purgeExpired: limit must be a positive integer, got ${String(limit)}`, {
    driver,
    hint: 'pass a record count such as 1000, or no limit to remove every expired record',
  });
}
