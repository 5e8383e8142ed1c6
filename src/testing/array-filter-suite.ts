import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';

interface Order {
  id: string;
  tags?: unknown;
  items?: unknown;
  scores?: unknown;
  meta?: unknown;
  rank?: number;
}

/** Documents whose array fields cover what filters on arrays must tell apart. */
function orders(): Order[] {
  return [
    {
      id: 'o1',
      tags: ['work', 'home'],
      items: [
        { sku: 'a', qty: 1 },
        { sku: 'b', qty: 3 },
      ],
      scores: [1, 5],
      rank: 3,
    },
    { id: 'o2', tags: ['home'], items: [{ sku: 'b', qty: 2 }], scores: [2], rank: 1 },
    { id: 'o3', tags: 'work', items: { sku: 'c', qty: 9 }, scores: 7, rank: 2 },
    { id: 'o4', tags: [], items: [], scores: [], rank: 5 },
    { id: 'o5', tags: [['work']], items: [{ sku: ['a', 'z'] }, 'loose'], scores: [null, 10], meta: { labels: ['x'] } },
    { id: 'o6', tags: ['work', null], items: [{ qty: 4 }], meta: { labels: 'x' }, rank: 4 },
    { id: 'o7' },
  ];
}

/**
 * Filters on array fields (MongoDB semantics, see README "Filters"), and what a page walk
 * promises under concurrent writes. Every driver must give these exact answers.
 */
export function arrayFilterSuite(factory: DriverFactory): void {
  describe('array filters', () => {
    let h: Harness;
    const ids = (docs: ReadonlyArray<Record<string, unknown>>): string[] => docs.map((d) => d.id as string);
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });

    for (const indexes of [[], ['tags', 'items.sku', 'scores']]) {
      it(`query and count match array elements (${indexes.length ? 'indexed' : 'no index'})`, async () => {
        const c = h.store.collection('orders', { indexes });
        await c.insertMany(orders() as unknown as Array<Record<string, unknown>>);
        const cases: Array<[Record<string, unknown>, string[]]> = [
          [{ tags: 'work' }, ['o1', 'o3', 'o6']],
          [{ tags: { $eq: 'home' } }, ['o1', 'o2']],
          [{ tags: { $in: ['home', 'nope'] } }, ['o1', 'o2']],
          [{ tags: { $ne: 'work' } }, ['o2', 'o4', 'o5', 'o7']],
          [{ tags: { $nin: ['work', 'home'] } }, ['o4', 'o5', 'o7']],
          [{ tags: ['work', 'home'] }, ['o1']],
          [{ tags: ['home', 'work'] }, []],
          [{ tags: { $eq: ['work'] } }, ['o5']],
          [{ tags: [] }, ['o4']],
          [{ tags: null }, ['o6', 'o7']],
          [{ tags: { $ne: null } }, ['o1', 'o2', 'o3', 'o4', 'o5']],
          [{ tags: { $all: ['home', 'work'] } }, ['o1']],
          [{ tags: { $all: ['work'] } }, ['o1', 'o3', 'o6']],
          [{ tags: { $all: [] } }, []],
          [{ tags: { $size: 2 } }, ['o1', 'o6']],
          [{ tags: { $size: 0 } }, ['o4']],
          [{ tags: { $exists: true } }, ['o1', 'o2', 'o3', 'o4', 'o5', 'o6']],
          [{ tags: { $prefix: 'ho' } }, ['o1', 'o2']],
          [{ scores: { $gt: 4 } }, ['o1', 'o3', 'o5']],
          // Each condition may be met by a different element (MongoDB without $elemMatch).
          [{ scores: { $gte: 2, $lt: 3 } }, ['o1', 'o2']],
          [{ scores: { $gt: 5, $lt: 8 } }, ['o3']],
          [{ scores: { $lte: 1 } }, ['o1']],
          [{ 'items.sku': 'b' }, ['o1', 'o2']],
          [{ 'items.sku': 'a' }, ['o1', 'o5']],
          [{ 'items.sku': 'c' }, ['o3']],
          [{ 'items.sku': { $in: ['z', 'c'] } }, ['o3', 'o5']],
          [{ 'items.qty': { $gt: 2 } }, ['o1', 'o3', 'o6']],
          [{ 'items.sku': { $exists: false } }, ['o4', 'o6', 'o7']],
          [{ 'items.sku': null }, ['o4', 'o6', 'o7']],
          [{ 'items.sku': { $size: 2 } }, ['o5']],
          [{ 'meta.labels': 'x' }, ['o5', 'o6']],
          [{ $or: [{ tags: 'home' }, { 'items.qty': 4 }] }, ['o1', 'o2', 'o6']],
          [{ tags: 'work', 'items.sku': 'b' }, ['o1']],
        ];
        for (const [filter, want] of cases) {
          const context = JSON.stringify(filter);
          expect(ids(await c.query(filter)), context).toEqual(want);
          expect(await c.count(filter), context).toBe(want.length);
        }
        expect(ids(await c.query({ tags: 'work' }, { sort: { rank: -1 }, limit: 2 }))).toEqual(['o6', 'o1']);
        expect(ids(await c.query({ tags: 'work' }, { sort: { rank: 1 }, offset: 1 }))).toEqual(['o1', 'o6']);
      });
    }

    it('refuses malformed $size and $all with BAD_INPUT and changes nothing', async () => {
      const c = h.store.collection('orders');
      await c.insertMany(orders() as unknown as Array<Record<string, unknown>>);
      for (const filter of [
        { tags: { $size: -1 } },
        { tags: { $size: 2.5 } },
        { tags: { $size: '2' } },
        { tags: { $all: 'work' } },
        { tags: { $elemMatch: { $eq: 'work' } } },
      ]) {
        await expectCode(c.query(filter), 'BAD_INPUT');
        await expectCode(c.deleteWhere(filter), 'BAD_INPUT');
      }
      expect(await c.count()).toBe(7);
    });

    it('pages and deletes with array filters', async () => {
      const c = h.store.collection('orders', { indexes: ['tags'] });
      const docs = Array.from({ length: 60 }, (_, i) => ({
        id: `d${String(i).padStart(2, '0')}`,
        tags: i % 3 === 0 ? ['red', `n${i % 4}`] : i % 3 === 1 ? 'red' : ['blue'],
        rank: i % 7,
      }));
      await c.insertMany(docs);
      const filter = { tags: 'red' };
      for (const sort of [undefined, { rank: -1 } as const]) {
        const all = ids(await c.query(filter, sort ? { sort } : {}));
        expect(all).toHaveLength(40);
        const walked: string[] = [];
        let cursor: string | null = null;
        do {
          const page: { items: Array<Record<string, unknown>>; next: string | null } = await c.page(filter, {
            ...(sort ? { sort } : {}),
            limit: 7,
            cursor,
          });
          walked.push(...ids(page.items));
          cursor = page.next;
        } while (cursor !== null);
        expect(walked).toEqual(all);
      }
      expect(await c.deleteWhere({ tags: { $all: ['red', 'n0'] } })).toBe(5);
      expect(await c.count({ tags: 'n0' })).toBe(0);
      expect(await c.deleteWhere({ tags: { $size: 1 } })).toBe(20);
      expect(await c.count()).toBe(35);
      expect(await c.deleteWhere({ tags: { $ne: 'red' } })).toBe(0);
      expect(await c.count({ tags: 'red' })).toBe(35);
    });

    it('a page walk returns every document left unchanged exactly once, whatever happens to the others', async () => {
      // The promise README "Collections" makes: a document that is not written during the
      // walk is returned once, in order. One that is (its sort field changes, it is deleted
      // or inserted) may be returned twice or not at all; the walk still ends.
      const c = h.store.collection('walk', { indexes: ['group'] });
      let seed = 99;
      const random = (): number => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        return seed / 2_147_483_648;
      };
      const docs = Array.from({ length: 120 }, (_, i) => ({
        id: `w${String(i).padStart(3, '0')}`,
        group: i % 4,
        n: Math.floor(random() * 50),
        tags: i % 2 ? ['x'] : ['y', 'x'],
      }));
      await c.insertMany(docs);
      const sorts: Array<Record<string, 1 | -1>> = [{ n: 1 }, { group: -1, n: 1 }, { n: -1 }];
      for (const [s, sort] of sorts.entries()) {
        const touched = new Set<string>();
        const before = ids(await c.query({ tags: 'x' }, { sort }));
        const walked: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        let extra = 0;
        do {
          const page: { items: Array<Record<string, unknown>>; next: string | null } = await c.page(
            { tags: 'x' },
            { sort, limit: 9, cursor },
          );
          walked.push(...ids(page.items));
          cursor = page.next;
          expect(++pages).toBeLessThan(100);
          // Between pages, other writers move, delete and insert documents.
          for (let k = 0; k < 4; k++) {
            const victim = docs[Math.floor(random() * docs.length)]!.id;
            touched.add(victim);
            const roll = random();
            if (roll < 0.4) await c.update(victim, { n: Math.floor(random() * 50) }).catch(() => undefined);
            else if (roll < 0.6) await c.delete(victim);
            else {
              const id = `new${s}-${extra++}`;
              touched.add(id);
              await c.insert({ id, group: Math.floor(random() * 4), n: Math.floor(random() * 50), tags: ['x'] });
            }
          }
        } while (cursor !== null);
        const untouched = before.filter((id) => !touched.has(id));
        expect(untouched.length).toBeGreaterThan(20);
        const walkedUntouched = walked.filter((id) => !touched.has(id));
        expect(walkedUntouched, JSON.stringify(sort)).toEqual(untouched);
        // Put the collection back for the next sort.
        await c.deleteWhere({});
        await c.insertMany(docs);
      }
    });
  });
}
