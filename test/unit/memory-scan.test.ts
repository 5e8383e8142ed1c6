import { describe, expect, it } from 'vitest';
import { RecordMap } from '../../src/drivers/record-map.js';
import { scanRecords } from '../../src/drivers/memory-scan.js';
import { runScan, sortValues } from '../../src/query/match.js';
import { parseFilter } from '../../src/query/parse.js';
import { parseJson } from '../../src/codec/json.js';
import type { ScanQuery, StoredRecord } from '../../src/drivers/driver.js';
import { rng } from '../rng.js';

// Key parts that order differently by UTF-16 unit and by code point, and that prefix each other.
const KEY_PARTS = ['a', 'ab', 'b', 'é', '😀', '\uffff', 'k1', 'k10', 'k2', 'z'];

function record(r: () => number, key: string, version: number): StoredRecord {
  const doc = { n: Math.floor(r() * 5), s: ['x', 'y', 'z'][Math.floor(r() * 3)], ...(r() < 0.2 ? {} : { m: r() < 0.5 }) };
  const expiresAt = r() < 0.15 ? Math.floor(r() * 200) : null;
  return { key, value: JSON.stringify(doc), version, createdAt: 0, updatedAt: 0, expiresAt };
}

describe('in-memory scans (memory driver, file driver image)', () => {
  it('return exactly what the reference full scan returns, page by page, while records change', () => {
    const r = rng(77);
    const map = new RecordMap();
    const pick = (): string =>
      Array.from({ length: 1 + Math.floor(r() * 3) }, () => KEY_PARTS[Math.floor(r() * KEY_PARTS.length)]).join('');
    const filters = [undefined, { n: { $gte: 2 } }, { s: 'y' }, { m: { $exists: false } }, { $or: [{ n: 0 }, { s: 'z' }] }];
    const sorts = [
      [],
      [{ path: ['n'], dir: 1 as const }],
      [
        { path: ['s'], dir: -1 as const },
        { path: ['m'], dir: 1 as const },
      ],
    ];
    let compared = 0;
    for (let round = 0; round < 300; round++) {
      // Writes between scans: new keys, overwrites, deletes, deleted-then-set-again, clear.
      const writes = Math.floor(r() * 8);
      for (let w = 0; w < writes; w++) {
        const key = pick();
        if (r() < 0.3) map.delete(key);
        else map.set(key, record(r, key, round + 1));
      }
      if (r() < 0.01) map.clear();
      const now = Math.floor(r() * 250);
      const f = filters[Math.floor(r() * filters.length)];
      const query: ScanQuery = {
        filter: f === undefined ? undefined : parseFilter(f),
        sort: sorts[Math.floor(r() * sorts.length)],
        prefix: r() < 0.3 ? KEY_PARTS[Math.floor(r() * KEY_PARTS.length)] : undefined,
      };
      const context = JSON.stringify({ round, query, now });
      const whole = runScan([...map.values()], query, now);
      expect(
        scanRecords(map, query, now).map((x) => x.key),
        context,
      ).toEqual(whole.map((x) => x.key));
      const offset = Math.floor(r() * 3);
      const limit = 1 + Math.floor(r() * 6);
      expect(
        scanRecords(map, { ...query, offset, limit }, now).map((x) => x.key),
        context,
      ).toEqual(whole.slice(offset, offset + limit).map((x) => x.key));
      // Keyset pages concatenate to the whole result; a write in the middle is seen by both.
      const pageSize = 1 + Math.floor(r() * 5);
      let after: ScanQuery['after'];
      for (let pageNo = 0; pageNo < 50; pageNo++) {
        const page = scanRecords(map, { ...query, after, limit: pageSize }, now);
        const oracle = runScan([...map.values()], { ...query, after, limit: pageSize }, now);
        expect(
          page.map((x) => x.key),
          `${context} page ${pageNo}`,
        ).toEqual(oracle.map((x) => x.key));
        compared += page.length;
        if (page.length < pageSize) break;
        const last = page[page.length - 1]!;
        after = { key: last.key, values: sortValues(parseJson(last.value), query.sort ?? []) };
        if (r() < 0.2) {
          const key = pick();
          map.set(key, record(r, key, round + 100));
        }
      }
    }
    expect(compared).toBeGreaterThan(2000);
  });

  it('keeps the sorted keys right through merges, deletes and re-adds', () => {
    const map = new RecordMap();
    const live = (): string[] => map.sortedKeys().filter((key) => map.has(key));
    const put = (key: string): void => {
      map.set(key, { key, value: '1', version: 1, createdAt: 0, updatedAt: 0, expiresAt: null });
    };
    for (const key of ['m', 'c', 'x']) put(key);
    expect(map.sortedKeys()).toEqual(['c', 'm', 'x']);
    put('a');
    map.delete('m');
    put('m');
    put('😀');
    put('\uffff');
    map.delete('x');
    expect(map.sortedKeys()).toEqual(['a', 'c', 'm', '\uffff', '😀']);
    map.scanCache = 'stale';
    put('a');
    expect(map.scanCache).toBeUndefined();
    expect(map.sortedKeys()).toEqual(['a', 'c', 'm', '\uffff', '😀']);
    map.clear();
    expect(map.sortedKeys()).toEqual([]);
    // Keys arriving in order (a forward walk) are appended; many at once must not overflow the stack.
    put('a');
    expect(map.sortedKeys()).toEqual(['a']);
    const many = Array.from({ length: 200_000 }, (_, i) => `b${String(i).padStart(6, '0')}`);
    for (const key of many) put(key);
    expect(map.sortedKeys()).toEqual(['a', ...many]);
    // Deletes leave keys behind for readers to skip, never half or more of the list.
    for (const key of many.slice(0, 1000)) map.delete(key);
    expect(live()).toEqual(['a', ...many.slice(1000)]);
    for (const key of many.slice(1000, 150_000)) map.delete(key);
    expect(map.sortedKeys().length).toBeLessThan(2 * map.size);
    expect(live()).toEqual(['a', ...many.slice(150_000)]);
    // A key added, deleted and added again before the next read is listed once.
    put('c1');
    map.delete('c1');
    put('c1');
    put('c0');
    map.delete('c0');
    expect(map.sortedKeys().filter((key) => key === 'c1')).toEqual(['c1']);
    expect(live()).toEqual(['a', ...many.slice(150_000), 'c1']);
  });
});
