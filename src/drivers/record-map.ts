import type { StoredRecord } from './driver.js';
import { SortedKeys } from './sorted-keys.js';
import { newStamp } from './record-stamp.js';
import { recordBytes } from './quota-usage.js';

/**
 * One space's records in memory, plus what in-memory scans need to avoid re-reading every
 * record for every page: the keys in code-point order (see SortedKeys), and a slot for a
 * scan result that every write clears.
 */
export class RecordMap extends Map<string, StoredRecord> {
  /** A slot for the scan code's cached result (see memory-scan.ts); dropped on every write. */
  scanCache: unknown = undefined;
  /** Bytes (recordBytes) of every held record, expired ones included (quota checks' bound). */
  bytes = 0;
  readonly #order = new SortedKeys({ keys: () => super.keys(), has: (key) => super.has(key) });

  override set(key: string, record: StoredRecord): this {
    // Records parsed from disk or loaded from an image arrive without one.
    record.stamp ??= newStamp();
    const old = super.get(key);
    this.bytes += recordBytes(record) - (old === undefined ? 0 : recordBytes(old));
    this.#order.adding(key);
    this.scanCache = undefined;
    return super.set(key, record);
  }

  override delete(key: string): boolean {
    const old = super.get(key);
    if (old === undefined || !super.delete(key)) return false;
    this.bytes -= recordBytes(old);
    this.#order.removed();
    this.scanCache = undefined;
    return true;
  }

  override clear(): void {
    super.clear();
    this.bytes = 0;
    this.#order.cleared();
    this.scanCache = undefined;
  }

  /**
   * Every key in code-point order, possibly with some deleted ones (fewer than half): skip
   * keys `get` does not find. The array is shared: do not modify it.
   */
  sortedKeys(): readonly string[] {
    return this.#order.get();
  }
}
