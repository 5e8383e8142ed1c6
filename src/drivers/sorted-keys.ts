import { compareStrings } from '../query/match.js';

/**
 * The keys of a map or set in code-point order, kept up to date cheaply: built on first
 * use; keys added since are appended when they arrive in order (a forward walk, ascending
 * ids) and otherwise sorted among themselves and merged in one linear pass. Removed keys
 * stay in the list until a merge or until they are half of it, so a run of deletes costs
 * nothing here: readers skip keys the owner no longer holds. The owner reports additions
 * and removals; `source` lists and tests what it holds.
 */
export class SortedKeys {
  readonly #keys: () => Iterable<string>;
  readonly #has: (key: string) => boolean;
  #sorted: string[] | null = null;
  #added: string[] = [];
  /** Removed keys still in #sorted. */
  #stale = 0;

  constructor(source: { keys(): Iterable<string>; has(key: string): boolean }) {
    this.#keys = () => source.keys();
    this.#has = (key) => source.has(key);
  }

  /** Call before the owner starts holding `key` (while `has(key)` is still false). */
  adding(key: string): void {
    if (this.#sorted !== null && !this.#has(key)) this.#added.push(key);
  }

  removed(): void {
    if (this.#sorted !== null) this.#stale++;
  }

  cleared(): void {
    this.#sorted = null;
    this.#added = [];
    this.#stale = 0;
  }

  /**
   * Every key, in order, possibly with some the owner no longer holds (fewer than half):
   * skip those. The array is shared: do not modify it.
   */
  get(): readonly string[] {
    if (this.#sorted === null) {
      this.#sorted = [...this.#keys()].sort(compareStrings);
      this.#stale = 0;
    } else if (this.#added.length > 0) {
      const added = this.#added.sort(compareStrings);
      const last = this.#sorted[this.#sorted.length - 1];
      if (last === undefined || compareStrings(added[0]!, last) > 0) {
        // A key added, removed and added again is listed twice in `added`.
        for (let i = 0; i < added.length; i++) if (added[i] !== added[i - 1]) this.#sorted.push(added[i]!);
      } else this.#compact(added);
    }
    this.#added = [];
    if (this.#stale * 2 > this.#sorted.length) this.#compact([]);
    return this.#sorted;
  }

  /** How many keys sort strictly after `key` (all of them when `key` is undefined). */
  countAfter(key: string | undefined): number {
    const keys = this.get();
    if (key === undefined) return keys.length;
    return keys.length - searchKeys(keys, key, true);
  }

  /**
   * Merges the added keys in, keeping each key once and only keys still held (a key removed
   * and added again sits in both lists).
   */
  #compact(added: readonly string[]): void {
    const a = this.#sorted!;
    const out: string[] = [];
    let i = 0;
    let j = 0;
    let last: string | undefined;
    while (i < a.length || j < added.length) {
      const key = j >= added.length || (i < a.length && compareStrings(a[i]!, added[j]!) <= 0) ? a[i++]! : added[j++]!;
      if (key === last || !this.#has(key)) continue;
      out.push(key);
      last = key;
    }
    this.#sorted = out;
    this.#stale = 0;
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
