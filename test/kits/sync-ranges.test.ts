// Covered ranges: merge, cover and gaps, against a brute-force model (a set of integers)
// on seeded random operations (in the middle and at both ends of the line), `ranges` handed
// out as a copy, plus the bad-input paths.
import { describe, expect, it } from 'vitest';
import { BEGINNING, END, RangeSet } from '../../src/kits/sync/index.js';
import { StrataError } from '../../src/index.js';
import { rng } from '../rng.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return StrataError.is(error) ? error.code : `not a StrataError: ${String(error)}`;
  }
  return undefined;
};

describe('RangeSet', () => {
  it('merges overlapping and adjacent intervals, keeps apart the ones with a gap', () => {
    const set = new RangeSet().add(10, 20).add(21, 25).add(30, 40).add(15, 18).add(5, 9);
    expect(set.toJSON()).toEqual([
      [5, 25],
      [30, 40],
    ]);
    set.add(26, 29);
    expect(set.toJSON()).toEqual([[5, 40]]);
    expect(set.covers(5, 40)).toBe(true);
    expect(set.covers(4, 40)).toBe(false);
    expect(set.gaps(0, 50)).toEqual([
      [0, 4],
      [41, 50],
    ]);
  });

  it('takes dates and ISO strings as epoch ms', () => {
    const set = RangeSet.from([['2024-01-01T00:00:00Z', new Date('2024-01-02T00:00:00Z')]]);
    expect(set.toJSON()).toEqual([[Date.parse('2024-01-01T00:00:00Z'), Date.parse('2024-01-02T00:00:00Z')]]);
    expect(set.covers('2024-01-01T12:00:00Z', '2024-01-01T13:00:00.000Z')).toBe(true);
    expect(set.intervalAt('2024-01-03')).toBeNull();
  });

  it('covers the whole line from BEGINNING to END without overflow', () => {
    const set = new RangeSet().add(BEGINNING, 0).add(1, END);
    expect(set.toJSON()).toEqual([[BEGINNING, END]]);
    expect(set.gaps(BEGINNING, END)).toEqual([]);
    expect(new RangeSet().add(0, 5).gaps(BEGINNING, END)).toEqual([
      [BEGINNING, -1],
      [6, END],
    ]);
  });

  it('agrees with a set-of-integers model on 300 seeded random sequences', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = rng(seed);
      const int = (n: number) => Math.floor(random() * n);
      const model = new Set<number>();
      const set = new RangeSet();
      for (let step = 0; step < 25; step++) {
        const lo = int(120);
        const hi = lo + int(15);
        set.add(lo, hi);
        for (let v = lo; v <= hi; v++) model.add(v);
        // Invariant: sorted, disjoint, not adjacent.
        const ranges = set.ranges;
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1] + 1);
        const a = int(140);
        const b = a + int(30);
        const inModel = (v: number) => model.has(v);
        let all = true;
        for (let v = a; v <= b; v++) all &&= inModel(v);
        expect(set.covers(a, b), `seed ${seed} covers [${a}, ${b}]`).toBe(all);
        const gapValues = set.gaps(a, b).flatMap(([x, y]) => Array.from({ length: y - x + 1 }, (_, i) => x + i));
        const expected: number[] = [];
        for (let v = a; v <= b; v++) if (!inModel(v)) expected.push(v);
        expect(gapValues, `seed ${seed} gaps [${a}, ${b}]`).toEqual(expected);
        // Gaps are maximal: never adjacent to each other.
        const gaps = set.gaps(a, b);
        for (let i = 1; i < gaps.length; i++) expect(gaps[i]![0]).toBeGreaterThan(gaps[i - 1]![1] + 1);
        const probe = int(140);
        const around = set.intervalAt(probe);
        expect(around !== null, `seed ${seed} intervalAt ${probe}`).toBe(inModel(probe));
        if (around) expect(inModel(around[0] - 1) || inModel(around[1] + 1)).toBe(false);
      }
      expect(RangeSet.from(set.toJSON()).toJSON()).toEqual(set.toJSON());
    }
  });

  // At the ends of the line `hi + 1` and `lo - 1` leave the safe integers; RangeSet.from is
  // fed the same intervals in random order and must give the same set.
  it('agrees with the model on 2000 seeded sequences at BEGINNING and END', () => {
    const random = rng(4242);
    for (let seq = 0; seq < 2000; seq++) {
      const base = seq % 2 === 0 ? END - 40 : BEGINNING;
      const int = () => base + Math.floor(random() * 41);
      const pairOf = (): [number, number] => {
        const a = int();
        const b = int();
        return a <= b ? [a, b] : [b, a];
      };
      const model = new Set<number>();
      const set = new RangeSet();
      const added: Array<[number, number]> = [];
      for (let step = 0; step < 12; step++) {
        const [a, b] = pairOf();
        set.add(a, b);
        added.push([a, b]);
        for (let v = a; v <= b; v++) model.add(v);
        const ranges = set.toJSON();
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1] + 1);
        const [lo, hi] = pairOf();
        const gaps: Array<[number, number]> = [];
        for (let v = lo; v <= hi; v++) {
          if (model.has(v)) continue;
          const last = gaps.at(-1);
          if (last && last[1] === v - 1) last[1] = v;
          else gaps.push([v, v]);
        }
        expect(set.covers(lo, hi)).toBe(gaps.length === 0);
        expect(set.gaps(lo, hi)).toEqual(gaps);
        expect(set.intervalAt(lo) !== null).toBe(model.has(lo));
      }
      const shuffled = [...added].sort(() => random() - 0.5);
      expect(RangeSet.from(shuffled).toJSON()).toEqual(set.toJSON());
    }
  });

  it('hands out `ranges` as a copy: sorting or editing it leaves the set as it was', () => {
    const set = new RangeSet().add(1, 5).add(10, 20).add(30, 40);
    const before = set.toJSON();
    const shown = set.ranges as Array<[number, number]>;
    shown.sort((a, b) => b[0] - a[0]); // newest first, for display
    expect(shown.map(([lo]) => lo)).toEqual([30, 10, 1]);
    shown.push([100, 200]);
    // The pairs themselves are frozen (they are shared with the set, not copied).
    expect(() => {
      shown[0]![1] = 99;
    }).toThrow(TypeError);
    expect(set.toJSON()).toEqual(before);
    expect(set.covers(1, 5)).toBe(true);
    expect(set.intervalAt(35)).toEqual([30, 40]);
    expect(set.covers(100, 200)).toBe(false);
    // A clone shares the frozen pairs but not the list: adding to one leaves the other.
    const copy = set.clone().add(6, 9);
    expect(copy.toJSON()).toEqual([
      [1, 20],
      [30, 40],
    ]);
    expect(set.toJSON()).toEqual(before);
  });

  it('refuses bad ranges and bounds with BAD_INPUT and leaves the set as it was', () => {
    const set = new RangeSet().add(1, 2);
    expect(code(() => set.add(5, 4))).toBe('BAD_INPUT');
    expect(code(() => set.add(1.5, 4))).toBe('BAD_INPUT');
    expect(code(() => set.add(Number.NaN, 4))).toBe('BAD_INPUT');
    expect(code(() => set.add(0, 2 ** 60))).toBe('BAD_INPUT');
    expect(code(() => set.add('yesterday', 4))).toBe('BAD_INPUT');
    expect(code(() => set.add('1', 4))).toBe('BAD_INPUT');
    expect(code(() => set.add(new Date('nope'), 4))).toBe('BAD_INPUT');
    expect(code(() => set.covers(3, 1))).toBe('BAD_INPUT');
    expect(code(() => set.gaps(3, 1))).toBe('BAD_INPUT');
    expect(code(() => RangeSet.from([[2, 1]]))).toBe('BAD_INPUT');
    expect(set.toJSON()).toEqual([[1, 2]]);
  });
});
