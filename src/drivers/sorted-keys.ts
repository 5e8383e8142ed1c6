import { compareStrings } from '../query/match.js';

/**
 * The keys of a map or set in code-point order, kept up to date cheaply: built on first
 * use, then keys added since are sorted among themselves and merged in one linear pass, and
 * keys the owner no longer holds are dropped during that merge. The owner reports additions
 * and removals; `source` lists and tests what it holds.
 */
export class SortedKeys {
  readonly #keys: () => Iterable<string>;
  readonly #has: (key: string) => boolean;
  #sorted: string[] | null = null;
  #added: string[] = [];
  #removed = false;

  constructor(source: { keys(): Iterable<string>; has(key: string): boolean }) {
    this.#keys = () => source.keys();
    this.#has = (key) => source.has(key);
  }

  /** Call before the owner starts holding `key` (while `has(key)` is still false). */
  adding(key: string): void {
    if (this.#sorted !== null && !this.#has(key)) this.#added.push(key);
  }

  removed(): void {
    if (this.#sorted !== null) this.#removed = true;
  }

  cleared(): void {
    this.#sorted = null;
    this.#added = [];
    this.#removed = false;
  }

  /** Every key, in order. The array is shared: do not modify it. */
  get(): readonly string[] {
    if (this.#sorted === null) this.#sorted = [...this.#keys()].sort(compareStrings);
    else if (this.#added.length > 0 || this.#removed) {
      const added = this.#added.sort(compareStrings);
      const last = this.#sorted[this.#sorted.length - 1];
      // Keys arriving in order (a forward walk, ascending ids) go on the end: O(added), not O(all).
      if (!this.#removed && (last === undefined || compareStrings(added[0]!, last) > 0)) {
        for (const key of added) this.#sorted.push(key);
      } else this.#sorted = this.#merge(this.#sorted, added);
    }
    this.#added = [];
    this.#removed = false;
    return this.#sorted;
  }

  /** How many keys sort strictly after `key` (all of them when `key` is undefined). */
  countAfter(key: string | undefined): number {
    const keys = this.get();
    if (key === undefined) return keys.length;
    return keys.length - searchKeys(keys, key, true);
  }

  /**
   * Merges two sorted key lists, keeping each key once and only keys still held (a key
   * removed and added again before the merge sits in both lists).
   */
  #merge(a: readonly string[], b: readonly string[]): string[] {
    const out: string[] = [];
    let i = 0;
    let j = 0;
    let last: string | undefined;
    while (i < a.length || j < b.length) {
      const key = j >= b.length || (i < a.length && compareStrings(a[i]!, b[j]!) <= 0) ? a[i++]! : b[j++]!;
      if (key === last || !this.#has(key)) continue;
      out.push(key);
      last = key;
    }
    return out;
  }
}

/** First index whose key is >= `key`, or > `key` when `strict`. */
export function searchKeys(keys: readonly string[], key: string, strict: boolean): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareStrings(keys[mid]!, key);
    if (c < 0 || (strict && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
