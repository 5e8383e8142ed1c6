// Covered ranges of a cursor field (a date, an id, a sequence number): which values of the
// cursor a mirror holds every item for. Kept as sorted, disjoint, non-adjacent closed
// intervals of safe integers, so "is [a, b] covered" and "what is missing in [a, b]" are
// answered from a few numbers instead of the items themselves.
import { StrataError } from '../../index.js';
import { toBound, type Bound } from './bounds.js';

/** A closed interval `[lo, hi]` of cursor values, as safe integers (dates as epoch ms). */
export type Range = readonly [lo: number, hi: number];

/**
 * The lowest cursor value: cover `[BEGINNING, x]` when a walk reached the oldest item of the
 * source, so "everything at or before x is held" can be asked like any other range.
 */
export const BEGINNING = Number.MIN_SAFE_INTEGER;
/** The highest cursor value. */
export const END = Number.MAX_SAFE_INTEGER;

/** A range from two bounds, or BAD_INPUT naming the call when it is not one. */
export function toRange(lo: Bound, hi: Bound, op: string): Range {
  const a = toBound(lo, 'the range start', op);
  const b = toBound(hi, 'the range end', op);
  if (a > b) {
    throw new StrataError('BAD_INPUT', `${op}: the range start (${a}) is after its end (${b})`, {
      op,
      hint: 'pass the lower bound first: [start, end] with start <= end',
    });
  }
  return [a, b];
}

/** An interval as the set keeps it: frozen, so one handed out through `ranges` cannot be edited. */
function pair(lo: number, hi: number): Range {
  return Object.freeze([lo, hi] as const);
}

/** A set of covered cursor values: merged intervals, kept sorted. Mutable; `clone()` copies. */
export class RangeSet {
  #ranges: Range[] = [];

  /**
   * A set from intervals (in any order, possibly overlapping): sorted once and merged in one
   * pass, so tens of thousands of stored intervals load in milliseconds.
   */
  static from(ranges: Iterable<readonly [Bound, Bound]>, op = 'RangeSet.from'): RangeSet {
    const notPairs = (): never => {
      throw new StrataError('BAD_INPUT', `${op}: pass a list of [lo, hi] pairs`, {
        op,
        hint: 'pass ranges like [[1, 5], [9, 12]]',
      });
    };
    if (ranges === null || ranges === undefined || typeof (ranges as Iterable<unknown>)[Symbol.iterator] !== 'function')
      return notPairs();
    const all: Range[] = [];
    for (const pair of ranges as Iterable<unknown>) {
      if (!Array.isArray(pair) || pair.length !== 2) return notPairs();
      all.push(toRange(pair[0] as Bound, pair[1] as Bound, op));
    }
    all.sort((p, q) => p[0] - q[0]);
    const merged: Array<[number, number]> = [];
    for (const [x, y] of all) {
      const last = merged.at(-1);
      if (last !== undefined && x <= last[1] + 1) last[1] = Math.max(last[1], y);
      else merged.push([x, y]);
    }
    const set = new RangeSet();
    set.#ranges = merged.map(([x, y]) => pair(x, y));
    return set;
  }

  /**
   * The intervals, sorted, disjoint and non-adjacent: a fresh copy on every read, so a caller
   * sorting it for display (newest first) reorders only the copy, not the list `covers` and
   * `intervalAt` search. The pairs in it are frozen: they are shared, not copied.
   */
  get ranges(): readonly Range[] {
    return this.#ranges.slice();
  }

  get isEmpty(): boolean {
    return this.#ranges.length === 0;
  }

  /** Adds `[lo, hi]`, merging it with every interval it overlaps or touches (hi + 1 = lo). */
  add(lo: Bound, hi: Bound, op = 'RangeSet.add'): this {
    let [a, b] = toRange(lo, hi, op);
    const list = this.#ranges;
    // The first interval not wholly before [a, b] (ending at a - 2 or earlier), by binary
    // search, then every interval from there that starts at b + 1 or earlier merges in.
    // (`y + 1` and `b + 1` stay exact: both are at most END + 1, still an exact double.)
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (list[mid]![1] + 1 < a) low = mid + 1;
      else high = mid;
    }
    let end = low;
    while (end < list.length && list[end]![0] <= b + 1) {
      a = Math.min(a, list[end]![0]);
      b = Math.max(b, list[end]![1]);
      end++;
    }
    list.splice(low, end - low, pair(a, b));
    return this;
  }

  /** Whether every value of `[lo, hi]` is covered (by one interval: they never touch). */
  covers(lo: Bound, hi: Bound, op = 'RangeSet.covers'): boolean {
    const [a, b] = toRange(lo, hi, op);
    const around = this.intervalAt(a);
    return around !== null && around[1] >= b;
  }

  /** The interval holding `value`, or `null` when it is not covered. */
  intervalAt(value: Bound, op = 'RangeSet.intervalAt'): Range | null {
    const v = toBound(value, 'the value', op);
    // Binary search: the last interval starting at or before v.
    let low = 0;
    let high = this.#ranges.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const [x, y] = this.#ranges[mid]!;
      if (v < x) high = mid - 1;
      else if (v > y) low = mid + 1;
      else return [x, y];
    }
    return null;
  }

  /** The parts of `[lo, hi]` not covered, in order: what a mirror still has to fetch. */
  gaps(lo: Bound, hi: Bound, op = 'RangeSet.gaps'): Range[] {
    const [a, b] = toRange(lo, hi, op);
    const out: Range[] = [];
    let next = a;
    for (const [x, y] of this.#ranges) {
      if (y < next) continue;
      if (x > b) break;
      if (x > next) out.push([next, x - 1]);
      next = y + 1;
      if (next > b) return out;
    }
    out.push([next, b]);
    return out;
  }

  clone(): RangeSet {
    // The pairs are frozen and never changed in place, so the copies can share them.
    const copy = new RangeSet();
    copy.#ranges = this.#ranges.slice();
    return copy;
  }

  toJSON(): Array<[number, number]> {
    return this.#ranges.map(([x, y]) => [x, y]);
  }
}
