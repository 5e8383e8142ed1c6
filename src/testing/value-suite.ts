import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store.js';
import { memoryDriver } from '../drivers/memory.js';
import { MAX_TIME_MS } from '../codec/duration.js';
import type { Collection } from '../collection.js';
import type { Filter, Sort } from '../collection-types.js';
import { StrataError } from '../errors.js';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { byCodePoint, expectCode } from './kv-suite.js';
import { ACCEPTED, REFUSED, SORT_NUMBERS, SORT_STRINGS } from './value-table.js';

type Doc = { id: string; s?: unknown; n?: unknown; m?: unknown };
type Docs = Collection;

/** Mixed JSON types for one field, so sorts across types are compared too. */
const MIXED: unknown[] = [null, true, false, 0, -1, 2.5, '', 'a', '😀', [], [1, 'a'], { a: 1 }, { a: '\u0000' }, { b: [null] }];

/** Documents whose fields hold the hostile strings and numbers; some lack a field. */
function sortDocs(): Doc[] {
  const docs: Doc[] = [];
  const n = Math.max(SORT_STRINGS.length, SORT_NUMBERS.length, MIXED.length) + 4;
  for (let i = 0; i < n; i++) {
    const doc: Doc = { id: `d${String(i).padStart(2, '0')}` };
    if (i < SORT_STRINGS.length) doc.s = SORT_STRINGS[i];
    else if (i % 2 === 0) doc.s = SORT_STRINGS[i % 7]; // duplicates, so ties are ordered by key
    if (i < SORT_NUMBERS.length) doc.n = SORT_NUMBERS[i];
    else if (i % 3 !== 0) doc.n = SORT_NUMBERS[i % 5];
    if (i < MIXED.length) doc.m = MIXED[i];
    docs.push(doc);
  }
  return docs;
}

/** Every filter the suite asks both stores: equality, ranges, prefixes and sets per value. */
function sortFilters(): Filter[] {
  const filters: Filter[] = [{}, { s: { $exists: false } }, { n: { $exists: true } }];
  for (const s of SORT_STRINGS) {
    filters.push({ s }, { s: { $gt: s } }, { s: { $lte: s } }, { s: { $ne: s } }, { s: { $prefix: s } });
    const first = String.fromCodePoint(s.codePointAt(0) ?? 0x61);
    filters.push({ s: { $prefix: first } });
  }
  for (const n of SORT_NUMBERS) filters.push({ n }, { n: { $gte: n } }, { n: { $lt: n } }, { n: { $ne: n } });
  for (const m of MIXED) if (m === null || typeof m !== 'object') filters.push({ m });
  filters.push(
    { s: { $in: SORT_STRINGS.slice(0, 12) } },
    { n: { $in: SORT_NUMBERS } },
    { n: { $nin: SORT_NUMBERS.slice(0, 8) } },
  );
  filters.push({ s: { $in: [...SORT_STRINGS, ...SORT_STRINGS.map((s) => `${s}!`), ...SORT_STRINGS.map((s) => `!${s}`)] } });
  filters.push({ $or: [{ s: '😀' }, { n: 2 ** 60 }, { m: '' }] });
  return filters;
}

const SORTS: Sort[] = [{ s: 1 }, { s: -1 }, { n: 1 }, { n: -1 }, { m: 1 }, { m: -1 }, { s: 1, n: -1 }, { n: 1, s: 1 }];

const ids = (docs: ReadonlyArray<Record<string, unknown>>): string[] => docs.map((d) => d.id as string);

async function walkPages(c: Docs, filter: Filter, sort: Sort): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: Array<Record<string, unknown>>; next: string | null } = await c.page(filter, { sort, limit: 7, cursor });
    out.push(...ids(page.items));
    cursor = page.next;
  } while (cursor !== null);
  return out;
}

/** expectCode with a label: which of many cases failed. */
async function refused(promise: Promise<unknown>, label: string): Promise<StrataError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, label).toBeInstanceOf(StrataError);
  expect((error as StrataError).code, label).toBe('BAD_INPUT');
  return error as StrataError;
}

export function valueSuite(factory: DriverFactory): void {
  describe('values', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });

    it(`refuses the ${REFUSED.length} values that cannot round-trip, on every write path, and changes nothing`, async () => {
      const kv = h.store.kv('values');
      const docs = h.store.collection('docs');
      await kv.set('keep', 'me');
      for (const c of REFUSED) {
        const direct = await refused(kv.set('v', c.make()), `kv.set ${c.name}`);
        expect(typeof direct.details?.path, c.name).toBe('string');
        await refused(
          kv.setMany([
            ['a', 1],
            ['v', c.make()],
          ]),
          `kv.setMany ${c.name}`,
        );
        await refused(
          kv.update('keep', () => [c.make()]),
          `kv.update ${c.name}`,
        );
        // In an array: a document property that is undefined is dropped, not refused.
        const inDoc = await refused(docs.insert({ id: 'x', s: [c.make()] }), `insert ${c.name}`);
        expect(String(inDoc.details?.path), c.name).toMatch(/^value\.s\[0\]/);
        await refused(docs.upsertMany([{ id: 'y' }, { id: 'z', s: [c.make()] }]), `upsertMany ${c.name}`);
      }
      expect(await kv.list()).toEqual(['keep']);
      expect(await kv.getEntry('keep')).toMatchObject({ value: 'me', version: 1 });
      expect(await docs.count()).toBe(0);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it(`reads back the ${ACCEPTED.length} values that can, exactly, through kv and collections and after reopening`, async () => {
      const keyOf = (i: number): string => `v${String(i).padStart(3, '0')}`;
      let kv = h.store.kv('values');
      let docs = h.store.collection('docs');
      for (const [i, c] of ACCEPTED.entries()) {
        await kv.set(keyOf(i), c.make());
        await docs.insert(c.kvOnly ? { id: keyOf(i) } : { id: keyOf(i), s: c.make() });
      }
      const check = async (): Promise<void> => {
        const got = await kv.getMany(ACCEPTED.map((_, i) => keyOf(i)));
        for (const [i, c] of ACCEPTED.entries()) {
          const back = 'back' in c ? c.back : c.make();
          expect(got[i], c.name).toStrictEqual(back);
          expect(await docs.get(keyOf(i)), c.name).toStrictEqual(c.kvOnly ? { id: keyOf(i) } : { id: keyOf(i), s: back });
        }
        expect(Object.is(got[ACCEPTED.findIndex((c) => c.name.startsWith('-0'))], 0)).toBe(true);
      };
      await check();
      if (h.store.driver.capabilities.persistent) {
        await h.reopen();
        kv = h.store.kv('values');
        docs = h.store.collection('docs');
        await check();
      }
      const seen: string[] = [];
      for await (const [key] of kv.entries()) seen.push(key);
      expect(seen).toEqual(ACCEPTED.map((_, i) => keyOf(i)));
    });

    it('answers filters, sorts, counts and pages on hostile strings and numbers as memory does', async () => {
      const reference: Store = await openStore({ driver: memoryDriver(), clock: h.clock.fn, sweepInterval: false });
      try {
        const docs = sortDocs();
        for (const indexes of [[], ['s', 'n', 'm']]) {
          const name = `sorted${indexes.length}`;
          const c = h.store.collection(name, { indexes });
          const r = reference.collection(name, { indexes });
          await c.insertMany(docs);
          await r.insertMany(docs);
          // memory itself: code point order, ties by key
          const bySort = await r.query({ s: { $exists: true } }, { sort: { s: 1 } });
          const expected = docs
            .filter((d) => d.s !== undefined)
            .sort((a, b) => byCodePoint(a.s as string, b.s as string) || byCodePoint(a.id, b.id));
          expect(ids(bySort)).toEqual(ids(expected));
          for (const filter of sortFilters()) {
            const label = `${name} ${JSON.stringify(filter)}`;
            expect(ids(await c.query(filter)), label).toEqual(ids(await r.query(filter)));
            expect(await c.count(filter), label).toBe(await r.count(filter));
          }
          for (const sort of SORTS) {
            const label = `${name} sort ${JSON.stringify(sort)}`;
            const want = ids(await r.query({}, { sort }));
            expect(ids(await c.query({}, { sort })), label).toEqual(want);
            expect(await walkPages(c, {}, sort), label).toEqual(want);
            expect(await walkPages(c, { n: { $gte: 0 } }, sort), label).toEqual(ids(await r.query({ n: { $gte: 0 } }, { sort })));
          }
        }
      } finally {
        await reference.close();
      }
    });

    it('orders, counts and prefix-lists hostile keys in code point order', async () => {
      const kv = h.store.kv('keys');
      const keys = SORT_STRINGS.filter((s) => s !== '');
      for (const key of keys) await kv.set(key, key);
      expect(await kv.list()).toEqual([...keys].sort(byCodePoint));
      for (const key of keys) {
        const first = String.fromCodePoint(key.codePointAt(0)!);
        for (const prefix of [key, first]) {
          const want = keys.filter((k) => k.startsWith(prefix)).sort(byCodePoint);
          expect(await kv.list({ prefix }), JSON.stringify(prefix)).toEqual(want);
          expect(await kv.count({ prefix }), JSON.stringify(prefix)).toBe(want.length);
        }
        expect(await kv.get(key)).toBe(key);
      }
      const docs = h.store.collection('docs');
      await docs.insertMany(keys.map((id) => ({ id })));
      expect(await docs.keys({ prefix: '😀' })).toEqual(['😀', '😀a']);
    });

    it('refuses filters, prefixes and keys holding lone surrogates, which drivers would compare differently', async () => {
      const kv = h.store.kv('keys');
      const docs = h.store.collection('docs');
      await kv.set('😀', 1);
      await docs.insert({ id: '😀', s: '😀' });
      for (const lone of ['\ud83d', '\ude00', 'a\ud800b']) {
        await expectCode(kv.set(lone, 1), 'BAD_INPUT');
        await expectCode(kv.get(lone), 'BAD_INPUT');
        await expectCode(kv.list({ after: lone }), 'BAD_INPUT');
        await expectCode(kv.list({ prefix: lone }), 'BAD_INPUT');
        await expectCode(kv.count({ prefix: lone }), 'BAD_INPUT');
        await expectCode(kv.clear({ prefix: lone }), 'BAD_INPUT');
        await expectCode(kv.entries({ prefix: lone }).next(), 'BAD_INPUT');
        await expectCode(docs.keys({ prefix: lone }), 'BAD_INPUT');
        await expectCode(docs.get(lone), 'BAD_INPUT');
        await expectCode(docs.query({ s: lone }), 'BAD_INPUT');
        await expectCode(docs.query({ s: { $gt: lone } }), 'BAD_INPUT');
        await expectCode(docs.count({ s: { $prefix: lone } }), 'BAD_INPUT');
        await expectCode(docs.query({ s: { $in: ['x', lone] } }), 'BAD_INPUT');
      }
      expect(await kv.list()).toEqual(['😀']);
      expect(await docs.count()).toBe(1);
    });

    it('refuses ttls that are not durations or would expire after the last Date, and keeps expiresAt a valid Date', async () => {
      const kv = h.store.kv('ttl');
      const bad: unknown[] = [
        1e300,
        -1,
        0,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        '1e400s',
        `${'9'.repeat(400)}w`,
        '-5s',
        10n,
        MAX_TIME_MS + 1,
      ];
      for (const ttl of bad) await expectCode(kv.set('k', 1, { ttl: ttl as never }), 'BAD_INPUT');
      // Parses as a duration, but now + ttl is past the last Date.
      await expectCode(kv.set('k', 1, { ttl: MAX_TIME_MS - 1 }), 'BAD_INPUT');
      await expectCode(kv.setMany([['k', 1]], { ttl: MAX_TIME_MS }), 'BAD_INPUT');
      await expectCode(kv.incr('k', 1, { ttl: MAX_TIME_MS }), 'BAD_INPUT');
      expect(await kv.list()).toEqual([]);
      const longest = MAX_TIME_MS - h.clock.now;
      const entry = await kv.set('k', 1, { ttl: longest });
      expect(entry.expiresAt?.getTime()).toBe(MAX_TIME_MS);
      expect((await kv.getEntry('k'))?.expiresAt?.getTime()).toBe(MAX_TIME_MS);
      await expectCode(async () => h.store.collection('c', { ttl: 1e300 }), 'BAD_INPUT');
      const docs = h.store.collection('c', { ttl: MAX_TIME_MS - 1 });
      await expectCode(docs.insert({ id: 'a' }), 'BAD_INPUT');
      expect(await docs.count()).toBe(0);
    });
  });
}
