// Hostile cursors and ranges for the sync kit: NaN / Infinity / reversed / equal bounds,
// date strings that name no instant (no time zone: local time differs between machines) or
// a day that does not exist, dates mixed with numbers, malformed stored states, and 10k
// disjoint ranges (merged and loaded in linear time, not quadratic).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, StrataError } from '../../src/index.js';
import { BEGINNING, END, RangeSet, SyncStream } from '../../src/kits/sync/index.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-sync-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return StrataError.is(error) ? error.code : `not a StrataError: ${String(error)}`;
  }
  return undefined;
};

describe('sync kit bounds', () => {
  it('refuses bounds that are not one instant / integer, with BAD_INPUT', () => {
    for (const bad of [
      Number.NaN,
      Infinity,
      -Infinity,
      1.5,
      2 ** 53,
      -(2 ** 53),
      '5',
      '',
      'May 5',
      new Date('nope'),
      null,
      undefined,
      {},
      [],
      '2024-02-30',
      '2023-02-29',
      '2024-13-01',
      '2024-00-10',
      '2024-04-31',
      '2024-01-01T25:00:00Z',
      '2024-01-01T23:60:00Z',
      '2024-01-01T23:59:61Z',
      '2024-01-01T24:30:00Z',
      // No time zone: read in the machine's local zone, so not one value everywhere.
      '2024-01-01T00:00:00',
      '2024-01-01 10:00',
      '2024-01-01T00:00:00.123',
    ]) {
      expect(
        code(() => new RangeSet().add(bad as never, 10)),
        String(bad),
      ).toBe('BAD_INPUT');
    }
    const e = (() => {
      try {
        new RangeSet().add('2024-01-01T00:00:00', '2024-01-02T00:00:00Z');
      } catch (error) {
        return error as StrataError;
      }
      return null;
    })();
    expect(e?.message).toContain('time zone');
    expect(e?.hint).toContain('Z');
  });

  it('takes real dates: leap days, 24:00, offsets, date-only as UTC midnight', () => {
    const set = new RangeSet()
      .add('2024-02-29', '2024-02-29T23:59:59.999Z')
      .add('2000-02-29T12:00:00+02:00', '2000-02-29T12:00:00+0200')
      .add('2024-03-01T24:00:00Z', '2024-03-01T24:00:00Z');
    expect(set.toJSON()).toEqual([
      [Date.UTC(2000, 1, 29, 10), Date.UTC(2000, 1, 29, 10)],
      [Date.UTC(2024, 1, 29), Date.UTC(2024, 1, 29, 23, 59, 59, 999)],
      [Date.UTC(2024, 2, 2), Date.UTC(2024, 2, 2)],
    ]);
  });

  it('gives a date string the same value whatever the machine time zone', () => {
    const script = `import('${new URL('../../dist/kits/sync/index.js', import.meta.url).href}').then(({ RangeSet }) => {
      const out = [];
      for (const s of ['2024-06-01', '2024-06-01T08:00:00Z', '2024-06-01T08:00:00-07:00', '2024-06-01T08:00:00']) {
        try { out.push(new RangeSet().add(s, s).toJSON()[0][0]); } catch (e) { out.push(e.code); }
      }
      console.log(JSON.stringify(out));
    })`;
    const runIn = (tz: string) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, TZ: tz },
        encoding: 'utf8',
      }).stdout.trim();
    const utc = runIn('UTC');
    expect(JSON.parse(utc)).toEqual([Date.UTC(2024, 5, 1), Date.UTC(2024, 5, 1, 8), Date.UTC(2024, 5, 1, 15), 'BAD_INPUT']);
    expect(runIn('America/Los_Angeles')).toBe(utc);
    expect(runIn('Asia/Kolkata')).toBe(utc);
  });
});

describe('RangeSet under hostile shapes', () => {
  it('equal bounds, adjacency, overlaps and the ends of the line', () => {
    const set = new RangeSet().add(5, 5);
    expect(set.covers(5, 5)).toBe(true);
    expect(set.covers(4, 5)).toBe(false);
    expect(set.covers(5, 6)).toBe(false);
    set.add(6, 6).add(3, 4); // adjacent on both sides: one interval
    expect(set.toJSON()).toEqual([[3, 6]]);
    set.add(8, 9); // a gap of one value (7) stays a gap
    expect(set.toJSON()).toEqual([
      [3, 6],
      [8, 9],
    ]);
    expect(set.gaps(3, 9)).toEqual([[7, 7]]);
    expect(set.intervalAt(7)).toBeNull();
    expect(set.covers(6, 8)).toBe(false);
    set.add(1, 100); // swallows everything
    expect(set.toJSON()).toEqual([[1, 100]]);
    set
      .add(BEGINNING, BEGINNING)
      .add(END, END)
      .add(BEGINNING + 1, 0);
    expect(set.toJSON()).toEqual([
      [BEGINNING, 100],
      [END, END],
    ]);
    expect(set.gaps(BEGINNING, END)).toEqual([[101, END - 1]]);
    expect(code(() => set.add(6, 5))).toBe('BAD_INPUT');
    expect(code(() => set.covers(6, 5))).toBe('BAD_INPUT');
    expect(code(() => set.gaps(6, 5))).toBe('BAD_INPUT');
    expect(set.toJSON()).toEqual([
      [BEGINNING, 100],
      [END, END],
    ]);
  });

  it('mixes dates and numbers on one line (dates are epoch ms)', () => {
    const day = Date.UTC(2024, 0, 1);
    const set = new RangeSet().add('2024-01-01', day + 999).add(day + 1000, new Date(day + 2000));
    expect(set.toJSON()).toEqual([[day, day + 2000]]);
    expect(set.covers(new Date(day), '2024-01-01T00:00:02Z')).toBe(true);
  });

  it('RangeSet.from refuses what is not a list of pairs with BAD_INPUT', () => {
    for (const bad of [5, null, undefined, {}, [5], [null], [[1]], [[1, 2, 3]], [['1', '2']], [[2, 1]], [[1, Number.NaN]]])
      expect(
        code(() => RangeSet.from(bad as never)),
        JSON.stringify(bad),
      ).toBe('BAD_INPUT');
    expect(
      RangeSet.from([
        [9, 12],
        [1, 5],
        [6, 7],
        [3, 4],
        [20, 20],
      ]).toJSON(),
    ).toEqual([
      [1, 7],
      [9, 12],
      [20, 20],
    ]);
  });

  it('10k disjoint ranges: added, loaded and queried in linear time', () => {
    const started = performance.now();
    const set = new RangeSet();
    for (let i = 9_999; i >= 0; i--) set.add(i * 3, i * 3 + 1); // descending: worst case for appends
    expect(set.ranges.length).toBe(10_000);
    for (let round = 0; round < 20; round++) expect(RangeSet.from(set.toJSON()).ranges.length).toBe(10_000);
    expect(set.covers(30_000 - 3, 30_000 - 2)).toBe(true);
    expect(set.gaps(0, 29_999).length).toBe(10_000);
    for (let i = 0; i < 10_000; i++) set.add(i * 3 + 2, i * 3 + 2);
    expect(set.toJSON()).toEqual([[0, 29_999]]);
    // The quadratic merge took ~4 s per 10k adds and per load on this kind of machine; linear
    // is well under a second even when loaded.
    expect(performance.now() - started).toBeLessThan(8_000);
  });
});

describe('stream state and pages under hostile input', () => {
  it('a stored state holding non-integer bounds is CORRUPT; a null item in a page is BAD_INPUT', async () => {
    const store = await openStore(`sqlite:${join(dir, 'state.db')}`);
    try {
      const stream = new SyncStream<{ id: string; at: number }>(store, 's', {
        collection: store.collection('items'),
        cursor: (item) => item.at,
      });
      for (const covered of [[['2024-01-01', '2024-01-02']], [[1, 2.5]], [[1]], [5], [[2, 1]], [null]]) {
        await store.kv('sync.streams').set('s', { covered, checkpoint: null, updatedAt: 1 });
        await expect(stream.state(), JSON.stringify(covered)).rejects.toMatchObject({ code: 'CORRUPT' });
      }
      expect(code(() => stream.pageRange([{ id: 'a', at: 1 }, null as never]))).toBe('BAD_INPUT');
      expect(code(() => stream.pageRange([7 as never]))).toBe('BAD_INPUT');
      await stream.reset();
      // A 10k-range state saves and reads back quickly.
      const cover = Array.from({ length: 10_000 }, (_, i) => [i * 3, i * 3 + 1] as [number, number]);
      await stream.save([], { cover });
      const started = performance.now();
      for (let i = 0; i < 10; i++) expect((await stream.covered()).ranges.length).toBe(10_000);
      expect(performance.now() - started).toBeLessThan(8_000);
    } finally {
      await store.close();
    }
  });

  it('isPageCovered at the edges: both bounds inclusive; details of 10k items', async () => {
    const store = await openStore(`sqlite:${join(dir, 'edges.db')}`);
    try {
      const stream = new SyncStream<{ id: string; at: number }>(store, 'e', {
        collection: store.collection('items'),
        cursor: (item) => item.at,
      });
      await stream.save([], { cover: [[10, 20]] });
      const page = (...ats: number[]) => ats.map((at) => ({ id: `i${at}`, at }));
      expect(await stream.isPageCovered(page(10, 20))).toBe(true);
      expect(await stream.isPageCovered(page(15))).toBe(true);
      expect(await stream.isPageCovered(page(9, 15))).toBe(false);
      expect(await stream.isPageCovered(page(15, 21))).toBe(false);
      await stream.save([], { cover: [[21, 30]] }); // adjacent: one interval, the seam covered
      expect((await stream.covered()).toJSON()).toEqual([[10, 30]]);
      expect(await stream.isPageCovered(page(20, 21))).toBe(true);
      await stream.save([], { cover: [[32, 40]] }); // 31 stays a gap
      expect(await stream.isPageCovered(page(30, 32))).toBe(false);
      expect(await stream.gaps(10, 40)).toEqual([[31, 31]]);

      const details = stream.details<number[]>('details');
      const keys = Array.from({ length: 10_000 }, (_, i) => `run-${i}`);
      await details.saveMany(keys.filter((_, i) => i % 2 === 0).map((k) => [k, []] as const));
      const missing = await details.missing([...keys, ...keys, '__proto__', 'constructor']);
      expect(missing).toHaveLength(5_002);
      expect(missing.slice(0, 2)).toEqual(['run-1', 'run-3']);
      expect(missing.slice(-2)).toEqual(['__proto__', 'constructor']);
    } finally {
      await store.close();
    }
  });
});
