import type { StoredRecord } from './driver.js';
import { compareStrings } from '../query/match.js';

/**
 * One space's records in memory, plus what in-memory scans need to avoid re-reading every
 * record for every page: the keys in code-point order, kept up to date cheaply, and a slot
 * for a scan result that every write clears.
 *
 * The key order is built on first use, then maintained: keys added since are merged in
 * (sorted among themselves, then one linear merge), and deleted keys are dropped during
 * that merge, so paging through n records costs O(n) once instead of O(n) per page.
 */
export class RecordMap extends Map<string, StoredRecord> {
  /** A slot for the scan code's cached result (see memory-scan.ts); dropped on every write. */
  scanCache: unknown = undefined;
  #sorted: string[] | null = null;
  #added: string[] = [];
  #deleted = false;

  override set(key: string, record: StoredRecord): this {
    if (this.#sorted !== null && !super.has(key)) this.#added.push(key);
    this.#changed();
    return super.set(key, record);
  }

  override delete(key: string): boolean {
    if (!super.delete(key)) return false;
    if (this.#sorted !== null) this.#deleted = true;
    this.#changed();
    return true;
  }

  override clear(): void {
    super.clear();
    this.#sorted = null;
    this.#added = [];
    this.#deleted = false;
    this.#changed();
  }

  /** Every key, in code-point order. The array is shared: do not modify it. */
  sortedKeys(): readonly string[] {
    if (this.#sorted === null) {
      this.#sorted = [...super.keys()].sort(compareStrings);
    } else if (this.#added.length > 0 || this.#deleted) {
      this.#sorted = this.#merge(this.#sorted, this.#added.sort(compareStrings));
    }
    this.#added = [];
    this.#deleted = false;
    return this.#sorted;
  }

  #changed(): void {
    this.scanCache = undefined;
  }

  /**
   * Merges two sorted key lists, keeping each key once and only keys still present (a key
   * deleted and set again before the merge sits in both lists).
   */
  #merge(a: readonly string[], b: readonly string[]): string[] {
    const out: string[] = [];
    let i = 0;
    let j = 0;
    let last: string | undefined;
    while (i < a.length || j < b.length) {
      const key = j >= b.length || (i < a.length && compareStrings(a[i]!, b[j]!) <= 0) ? a[i++]! : b[j++]!;
      if (key === last || !super.has(key)) continue;
      out.push(key);
      last = key;
    }
    return out;
  }
}
