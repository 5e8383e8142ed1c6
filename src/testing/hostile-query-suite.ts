import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';
import { parseFilter, parseSort } from '../query/parse.js';
import { comparePositions, matches, sortValues } from '../query/match.js';

type Doc = Record<string, unknown>;

/** mulberry32: a failure reproduces from its seed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCALARS: unknown[] = [null, 0, 1, -1, 2.5, 1e21, -0.5, 1e-7, 'a', 'b', 'ab', '', 'B', 'é', '😀', '\uffff', true, false];
const FIELDS = ['a', 'b', 'o.x', 'o.y', 'arr', 'arr.x'];

/** Seeded documents and filters over mixed types, nulls, missing fields, nested objects and arrays. */
function generator(seed: number) {
  const r = rng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  const value = (depth: number): unknown => {
    const x = r();
    if (x < 0.6 || depth > 2) return pick(SCALARS);
    if (x < 0.8) return Array.from({ length: Math.floor(r() * 3) }, () => value(depth + 1));
    const o: Doc = {};
    for (const k of ['x', 'y']) if (r() < 0.6) o[k] = value(depth + 1);
    return o;
  };
  const doc = (i: number): Doc => {
    const d: Doc = { id: `d${String(i).padStart(3, '0')}` };
    for (const k of ['a', 'b']) if (r() < 0.8) d[k] = value(0);
    if (r() < 0.7) {
      const o: Doc = {};
      for (const k of ['x', 'y']) if (r() < 0.7) o[k] = value(0);
      d.o = o;
    }
    if (r() < 0.5) d.arr = Array.from({ length: Math.floor(r() * 3) }, () => (r() < 0.5 ? { x: value(1) } : value(1)));
    return d;
  };
  const condition = (): Doc => {
    const field = pick(FIELDS);
    const op = pick(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$prefix', '$all', '$size', '']);
    let v: unknown;
    if (['$gt', '$gte', '$lt', '$lte'].includes(op)) v = pick([0, 1, -1, 2.5, 'a', 'ab', 'b', '', 1e21]);
    else if (['$in', '$nin', '$all'].includes(op)) v = Array.from({ length: Math.floor(r() * 3) }, () => value(1));
    else if (op === '$exists') v = r() < 0.5;
    else if (op === '$prefix') v = pick(['', 'a', 'b', 'é', '😀', '\uffff']);
    else if (op === '$size') v = pick([0, 1, 2]);
    else v = value(1);
    return op === '' ? { [field]: v } : { [field]: { [op]: v } };
  };
  const filter = (depth: number): Doc => {
    const x = r();
    const list = (): Doc[] => Array.from({ length: 1 + Math.floor(r() * 3) }, () => filter(depth + 1));
    if (x < 0.15 && depth < 3) return { $or: list() };
    if (x < 0.25 && depth < 3) return { $and: list() };
    return condition();
  };
  const sort = (): Record<string, 1 | -1> =>
    r() < 0.4 ? {} : { [pick(FIELDS.slice(0, 5))]: pick([1, -1] as const), ...(r() < 0.3 ? { b: 1 as const } : {}) };
  return { doc, filter, sort };
}

/** The answer every driver must give: match.ts evaluated over the documents, sorted as `page` sorts. */
function reference(docs: readonly Doc[], filter: Doc, sortSpec: Record<string, 1 | -1>): string[] {
  const parsed = parseFilter(filter);
  const sort = parseSort(sortSpec);
  return docs
    .filter((d) => matches(parsed, d))
    .map((d) => ({ key: d.id as string, values: sortValues(d, sort) }))
    .sort((a, b) => comparePositions(a, b, sort))
    .map((p) => p.key);
}

const encode = (body: unknown): string => Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
const decode = (cursor: string): Doc => JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Doc;

/**
 * Hostile input to queries and pages: tampered cursors, filters of absurd shapes and sizes,
 * and seeded random documents and filters whose answers must equal the reference evaluator
 * (so memory, file and SQLite give identical answers).
 */
export function hostileQuerySuite(factory: DriverFactory): void {
  describe('hostile queries and cursors', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });
    const ids = (docs: readonly Doc[]): string[] => docs.map((d) => d.id as string);

    it('refuses every cursor page() did not make for this collection, filter and sort', async () => {
      const c = h.store.collection('t');
      const other = h.store.collection('u');
      for (let i = 0; i < 10; i++) {
        await c.insert({ id: `k${i}`, n: i % 3 });
        await other.insert({ id: `k${i}`, n: i % 3 });
      }
      const sort = { n: 1 } as const;
      const first = await c.page({}, { sort, limit: 3 });
      const body = decode(first.next!);
      const elsewhere = (await other.page({}, { sort, limit: 3 })).next!;
      const bad: unknown[] = [
        elsewhere, // same filter and sort, another collection
        encode({ ...body, v: [] }),
        encode({ ...body, v: [0, 1] }),
        encode({ ...body, v: ['\ud800'] }),
        Buffer.from(`{"v":[1e400],"k":"k1","q":${JSON.stringify(body.q)}}`).toString('base64url'),
        encode({ ...body, k: '' }),
        encode({ ...body, k: 'k'.repeat(1025) }),
        encode({ ...body, k: 5 }),
        encode({ ...body, extra: 1 }),
        encode([body.v, body.k, body.q]),
        encode(null),
        first.next!.slice(0, -4),
        `${first.next!}!`,
        '%%%%',
        'A'.repeat(2_000_000),
        42,
        {},
      ];
      for (const [i, cursor] of bad.entries()) {
        const error = await c.page({}, { sort, limit: 3, cursor: cursor as string }).then(
          () => null,
          (e: unknown) => e,
        );
        expect((error as { code?: string } | null)?.code, `cursor #${i}`).toBe('BAD_INPUT');
      }
      await expectCode(c.page({}, { sort: { n: -1 }, limit: 3, cursor: first.next }), 'BAD_INPUT');
      await expectCode(c.page({ n: { $gte: 0 } }, { sort, limit: 3, cursor: first.next }), 'BAD_INPUT');
      const second = await c.page({}, { sort, limit: 3, cursor: first.next });
      expect(ids(second.items)).toEqual(ids(await c.query({}, { sort, offset: 3, limit: 3 })));
    });

    it('walks pages sorted on long values (a cursor holds them)', async () => {
      const c = h.store.collection('long');
      for (let i = 0; i < 4; i++) await c.insert({ id: `k${i}`, s: String(3 - i).repeat(30_000) });
      const walked: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: Doc[]; next: string | null } = await c.page({}, { sort: { s: 1 }, limit: 1, cursor });
        walked.push(...ids(page.items));
        cursor = page.next;
      } while (cursor !== null);
      expect(walked).toEqual(['k3', 'k2', 'k1', 'k0']);
    });

    it('refuses hostile filter shapes with BAD_INPUT and answers huge ones like the reference', async () => {
      const c = h.store.collection('t');
      const docs = Array.from({ length: 6 }, (_, i) => ({ id: `k${i}`, n: i, s: i === 2 ? 'x' : `y${i}`, o: { p: i } }));
      await c.insertMany(docs);
      let deepValue: unknown = 1;
      for (let i = 0; i < 100_000; i++) deepValue = [deepValue];
      let deepAnd: Doc = { n: 1 };
      for (let i = 0; i < 10_000; i++) deepAnd = { $and: [deepAnd] };
      const refused: unknown[] = [
        deepAnd,
        { s: deepValue },
        { s: { $in: [deepValue] } },
        { $where: 'this.n > 1' },
        { s: { $regex: 'x' } },
        { o: JSON.parse('{"__proto__": {"p": 1}}') as unknown },
        JSON.parse('{"__proto__": {"s": "x"}}') as unknown,
        { constructor: 1 },
        { 'o.prototype': 1 },
        { n: 1n },
        { n: Number.NaN },
      ];
      for (const [i, filter] of refused.entries()) {
        const error = await c.query(filter as Doc).then(
          () => null,
          (e: unknown) => e,
        );
        expect((error as { code?: string } | null)?.code, `filter #${i}`).toBe('BAD_INPUT');
      }
      const manySort = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`f${i}`, 1 as const]));
      await expectCode(c.query({}, { sort: manySort }), 'BAD_INPUT');
      expect(
        await c.query({}, { sort: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`f${i}`, 1 as const])) }),
      ).toHaveLength(6);
      expect(Object.prototype).not.toHaveProperty('p');

      const bigIn = [...Array.from({ length: 100_000 }, (_, i) => `v${i % 50_000}`), 'x'];
      const huge: Doc[] = [
        { s: { $in: bigIn } },
        { s: { $nin: bigIn } },
        { n: { $in: Array.from({ length: 100_000 }, (_, i) => i * 1000 + 0.5).concat([2]) } },
        { s: { $all: bigIn.slice(0, 3_000) } },
        { $and: Array.from({ length: 10_000 }, (_, i) => ({ n: { $ne: i + 100 } })) },
        { $or: [...Array.from({ length: 10_000 }, (_, i) => ({ n: i + 100 })), { 'o.p': 3 }] },
        Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`f${i}`, { $exists: false }])),
      ];
      for (const [i, filter] of huge.entries()) {
        const expected = reference(docs, filter, {});
        expect(ids(await c.query(filter)), `huge filter #${i}`).toEqual(expected);
        expect(await c.count(filter), `huge filter #${i}`).toBe(expected.length);
      }
    }, 60_000);

    it('gives the reference answer for seeded random documents, filters and sorts (query, count, page walks)', async () => {
      for (const [seed, indexes] of [
        [1, []],
        [2, ['a', 'o.x', 'arr']],
      ] as const) {
        const gen = generator(seed);
        const docs = Array.from({ length: 50 }, (_, i) => gen.doc(i));
        const c = h.store.collection(`rand${seed}`, { indexes: [...indexes] });
        await c.insertMany(docs);
        for (let i = 0; i < 60; i++) {
          const filter = gen.filter(0);
          const sort = gen.sort();
          const expected = reference(docs, filter, sort);
          const label = `seed ${seed} #${i}: ${JSON.stringify(filter)} ${JSON.stringify(sort)}`;
          expect(ids(await c.query(filter, { sort })), label).toEqual(expected);
          expect(await c.count(filter), label).toBe(expected.length);
          const walked: string[] = [];
          let cursor: string | null = null;
          do {
            const page: { items: Doc[]; next: string | null } = await c.page(filter, { sort, limit: 7, cursor });
            walked.push(...ids(page.items));
            cursor = page.next;
          } while (cursor !== null);
          expect(walked, label).toEqual(expected);
        }
      }
    }, 60_000);
  });
}
