import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';

const Task = z.object({
  id: z.string(),
  title: z.string(),
  status: z.enum(['todo', 'doing', 'done']),
  priority: z.number().optional(),
  tags: z.array(z.string()).optional(),
  meta: z.object({ owner: z.string().optional(), score: z.number().optional(), flag: z.boolean().optional() }).optional(),
  createdAt: z.coerce.date(),
});

type TaskIn = z.input<typeof Task>;

function fixture(): TaskIn[] {
  const base = Date.UTC(2026, 0, 1);
  return [
    {
      id: 't01',
      title: 'write spec',
      status: 'done',
      priority: 2,
      tags: ['doc'],
      meta: { owner: 'ana', score: 5, flag: true },
      createdAt: new Date(base),
    },
    {
      id: 't02',
      title: 'write code',
      status: 'doing',
      priority: 1,
      meta: { owner: 'bo', score: 3 },
      createdAt: new Date(base + 86_400_000),
    },
    {
      id: 't03',
      title: 'review',
      status: 'todo',
      priority: 3,
      meta: { owner: 'ana', flag: false },
      createdAt: new Date(base + 2 * 86_400_000),
    },
    { id: 't04', title: 'Release', status: 'todo', tags: ['ops', 'doc'], createdAt: new Date(base + 3 * 86_400_000) },
    {
      id: 't05',
      title: 'écrire',
      status: 'done',
      priority: 2,
      meta: { owner: 'cy', score: 9.5 },
      createdAt: new Date(base + 4 * 86_400_000),
    },
    { id: 't06', title: 'write tests', status: 'todo', priority: 1, meta: {}, createdAt: new Date(base + 5 * 86_400_000) },
  ];
}

export function collectionSuite(factory: DriverFactory): void {
  describe('collection', () => {
    let h: Harness;
    const tasks = () => h.store.collection('tasks', { schema: Task, indexes: ['status', 'createdAt', 'meta.owner'] });
    const ids = (docs: Array<{ id: string }>) => docs.map((d) => d.id);
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });

    it('inserts with generated sortable keys and refuses duplicates', async () => {
      const notes = h.store.collection('notes');
      const a = await notes.insert({ text: 'a' });
      const b = await notes.insert({ text: 'b' });
      expect(typeof a.id).toBe('string');
      expect((a.id as string) < (b.id as string)).toBe(true);
      expect(await notes.get(a.id as string)).toEqual(a);
      await expectCode(notes.insert({ id: a.id, text: 'again' }), 'CONFLICT');
      expect(await notes.get(a.id as string)).toEqual({ id: a.id, text: 'a' });
      const custom = h.store.collection('users', { key: 'email' });
      await custom.insert({ email: 'x@y.z', name: 'X' });
      expect(await custom.get('x@y.z')).toEqual({ email: 'x@y.z', name: 'X' });
    });

    it('validates on write and on read, coercing dates', async () => {
      const c = tasks();
      const doc = await c.insert(fixture()[0]!);
      expect(doc.createdAt).toBeInstanceOf(Date);
      expect((await c.get('t01'))!.createdAt.getTime()).toBe(Date.UTC(2026, 0, 1));
      const error = await expectCode(
        c.insert({ id: 'bad', title: 5, status: 'todo', createdAt: new Date() } as never),
        'VALIDATION_FAILED',
      );
      expect(JSON.stringify(error.details)).toContain('title');
      await expectCode(c.update('t01', { status: 'nope' } as never), 'VALIDATION_FAILED');
      expect(await c.exists('bad')).toBe(false);
      expect((await c.getEntry('t01'))!.version).toBe(1);
      // Another schema for the same collection is refused within one process (BAD_INPUT); a
      // process opened later with a stricter schema finds the stored document invalid.
      const Strict = z.object({ id: z.string(), title: z.number() });
      expect(() => h.store.collection('tasks', { schema: Strict })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
      if (!h.store.driver.capabilities.persistent) return;
      await expectCode((await h.reopen()).collection('tasks', { schema: Strict }).get('t01'), 'VALIDATION_FAILED');
    });

    it('set, upsert, update, delete and versions', async () => {
      const c = tasks();
      await c.insert(fixture()[0]!);
      await c.set('t01', { ...fixture()[0]!, title: 'rewritten' });
      expect(await c.getEntry('t01')).toMatchObject({ version: 2, value: { title: 'rewritten' } });
      await c.upsert({ ...fixture()[1]! });
      await c.upsert({ ...fixture()[1]!, title: 'changed' });
      expect((await c.getEntry('t02'))!.version).toBe(2);
      const updated = await c.update('t02', { status: 'done' }, { ifVersion: 2 });
      expect(updated).toMatchObject({ id: 't02', title: 'changed', status: 'done' });
      await expectCode(c.update('t02', { status: 'todo' }, { ifVersion: 2 }), 'CONFLICT');
      await expectCode(c.update('zzz', { status: 'todo' }), 'NOT_FOUND');
      await expectCode(c.update('t02', { id: 'other' }), 'BAD_INPUT');
      await expectCode(c.set('t02', { ...fixture()[0]! }), 'BAD_INPUT');
      expect(await c.delete('t02')).toBe(true);
      expect(await c.delete('t02')).toBe(false);
      expect(await c.exists('t02')).toBe(false);
      expect(await c.get('t02')).toBeNull();
    });

    it('concurrent updates lose nothing', async () => {
      const counters = h.store.collection('counters');
      await counters.insert({ id: 'c', n: 0 });
      await Promise.all(
        Array.from({ length: 20 }, () =>
          h.store.transaction(async (tx) => {
            const c = tx.collection<{ id: string; n: number }>('counters');
            const doc = await c.get('c');
            await c.update('c', { n: doc!.n + 1 });
          }),
        ),
      );
      expect(await counters.get('c')).toEqual({ id: 'c', n: 20 });
    });

    it('fills timestamps and keeps createdAt', async () => {
      const c = h.store.collection('events', { timestamps: true });
      const doc = await c.insert({ name: 'a' });
      expect(doc.createdAt).toBe(new Date(h.clock.now).toISOString());
      h.clock.advance(5000);
      const after = await c.update(doc.id as string, { name: 'b' });
      expect(after.createdAt).toBe(doc.createdAt);
      expect(after.updatedAt).toBe(new Date(h.clock.now).toISOString());
      const replaced = await c.set(doc.id as string, { name: 'c' });
      expect(replaced.createdAt).toBe(doc.createdAt);
    });

    it('queries with every operator on top-level and nested fields', async () => {
      const c = tasks();
      await c.insertMany(fixture());
      const q = async (filter: Record<string, unknown>) => ids(await c.query(filter));
      expect(await q({ status: 'todo' })).toEqual(['t03', 't04', 't06']);
      expect(await q({ status: { $eq: 'done' } })).toEqual(['t01', 't05']);
      expect(await q({ status: { $ne: 'todo' } })).toEqual(['t01', 't02', 't05']);
      expect(await q({ priority: { $gt: 1 } })).toEqual(['t01', 't03', 't05']);
      expect(await q({ priority: { $gte: 2, $lt: 3 } })).toEqual(['t01', 't05']);
      expect(await q({ priority: { $lte: 1 } })).toEqual(['t02', 't06']);
      expect(await q({ priority: null })).toEqual(['t04']);
      expect(await q({ status: { $in: ['doing', 'done'] } })).toEqual(['t01', 't02', 't05']);
      expect(await q({ status: { $nin: ['doing', 'done'] } })).toEqual(['t03', 't04', 't06']);
      expect(await q({ tags: { $exists: true } })).toEqual(['t01', 't04']);
      expect(await q({ priority: { $exists: false } })).toEqual(['t04']);
      expect(await q({ title: { $prefix: 'write' } })).toEqual(['t01', 't02', 't06']);
      expect(await q({ 'meta.owner': 'ana' })).toEqual(['t01', 't03']);
      expect(await q({ 'meta.score': { $gt: 4 } })).toEqual(['t01', 't05']);
      expect(await q({ 'meta.flag': true })).toEqual(['t01']);
      expect(await q({ 'meta.flag': false })).toEqual(['t03']);
      expect(await q({ 'meta.owner': { $ne: 'ana' } })).toEqual(['t02', 't04', 't05', 't06']);
      expect(await q({ tags: ['ops', 'doc'] })).toEqual(['t04']);
      expect(await q({ createdAt: { $gte: new Date(Date.UTC(2026, 0, 4)) } })).toEqual(['t04', 't05', 't06']);
      expect(await q({ $or: [{ status: 'doing' }, { 'meta.owner': 'cy' }] })).toEqual(['t02', 't05']);
      expect(await q({ $and: [{ status: 'todo' }, { priority: { $exists: true } }] })).toEqual(['t03', 't06']);
      expect(await q({ status: 'todo', priority: 1 })).toEqual(['t06']);
      expect(await q({ priority: { $gt: 'a' } })).toEqual([]);
      expect(await q({})).toHaveLength(6);
      expect(await c.count({ status: 'todo' })).toBe(3);
      expect(await c.count()).toBe(6);
    });

    it('sorts, limits and offsets', async () => {
      const c = tasks();
      await c.insertMany(fixture());
      expect(ids(await c.query({}, { sort: { createdAt: -1 }, limit: 2 }))).toEqual(['t06', 't05']);
      expect(ids(await c.query({}, { sort: { priority: 1 } }))).toEqual(['t04', 't02', 't06', 't01', 't05', 't03']);
      expect(ids(await c.query({}, { sort: { priority: 'desc', title: 'asc' } }))).toEqual([
        't03',
        't01',
        't05',
        't02',
        't06',
        't04',
      ]);
      expect(ids(await c.query({ status: 'todo' }, { sort: { createdAt: 1 }, offset: 1, limit: 1 }))).toEqual(['t04']);
      expect(ids(await c.query({}, { sort: { title: 1 } }))).toEqual(['t04', 't03', 't02', 't01', 't06', 't05']);
    });

    it('refuses malformed filters, sorts and options with BAD_INPUT', async () => {
      const c = tasks();
      await c.insert(fixture()[0]!);
      const bad: Array<() => Promise<unknown>> = [
        () => c.query({ status: { $regex: 'x' } }),
        () => c.query({ $where: 'x' }),
        () => c.query({ 'a..b': 1 }),
        () => c.query({ '': 1 }),
        () => c.query({ '__proto__.x': 1 }),
        () => c.query({ status: { $in: 'todo' } }),
        () => c.query({ status: { $exists: 1 } }),
        () => c.query({ priority: { $gt: [1] } }),
        () => c.query({ $or: [] }),
        () => c.query('status' as never),
        () => c.query({}, { sort: { createdAt: 2 as never } }),
        () => c.query({}, { limit: -1 }),
        () => c.query({}, { offset: 1.5 }),
        () => c.page({}, { limit: 0 }),
        () => c.page({}, { cursor: 'garbage' }),
        () => c.count({ x: { $foo: 1 } }),
        () => c.deleteWhere({ x: { $foo: 1 } }),
        () => c.get(''),
        () => c.insert('doc' as never),
        () => h.store.collection('loose').insert({ id: 'x', extra: () => 1 }),
        () => h.store.collection('loose').insert({ id: 'x', nested: JSON.parse('{"__proto__": 1}') as unknown }),
        () => c.insert({ ...fixture()[1]!, id: 5n } as never),
      ];
      for (const [i, call] of bad.entries()) {
        const error = await call().then(
          () => null,
          (e: unknown) => e,
        );
        expect((error as { code?: string } | null)?.code, `bad call #${i}`).toBe('BAD_INPUT');
      }
      expect(await c.count()).toBe(1);
      await expectCode(async () => h.store.collection('x', { indexes: ['bad path!'] }), 'BAD_INPUT');
      await expectCode(async () => h.store.collection('x', { key: 'a.b' }), 'BAD_INPUT');
      await expectCode(async () => h.store.collection('x', { schema: {} as never }), 'BAD_INPUT');
      await expectCode(async () => h.store.collection('x', { ttl: 'forever' as never }), 'BAD_INPUT');
      await expectCode(async () => h.store.collection('no/slash'), 'BAD_INPUT');
      await expectCode(async () => c.watch('listener' as never), 'BAD_INPUT');
      await expectCode(c.page({}, { limit: 10_001 }), 'BAD_INPUT');
      await expectCode(c.dedupe({ keep: 'latest' as never }), 'BAD_INPUT');
      await expectCode(c.dedupe({ by: 'a..b' }), 'BAD_INPUT');
      await expectCode(c.update('t01', 'patch' as never), 'BAD_INPUT');
      await expectCode(c.update('t01', {}, { ifVersion: -1 }), 'BAD_INPUT');
      await expectCode(c.insertMany('docs' as never), 'BAD_INPUT');
      await expectCode(c.deleteWhere(undefined as never), 'BAD_INPUT');
      expect(await c.getEntry('t01')).toMatchObject({ version: 1 });
    });

    it('pages with opaque cursors that stay correct under concurrent writes', async () => {
      const c = h.store.collection('items', { indexes: ['group'] });
      for (let i = 0; i < 95; i++) await c.insert({ id: `i${String(i).padStart(3, '0')}`, group: i % 3, n: i });
      const all = ids((await c.query({ group: { $lt: 2 } }, { sort: { group: 1, n: -1 } })) as Array<{ id: string }>);
      const walked: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { items: Array<Record<string, unknown>>; next: string | null } = await c.page(
          { group: { $lt: 2 } },
          { sort: { group: 1, n: -1 }, limit: 10, cursor },
        );
        walked.push(...page.items.map((d) => d.id as string));
        cursor = page.next;
        pages++;
        if (pages === 2) {
          // Concurrent writers: delete an item already seen, one not yet seen, add new ones.
          await c.delete(walked[0]!);
          await c.delete('i001');
          await c.insert({ id: 'new-early', group: 0, n: 1000 });
          await c.insert({ id: 'new-late', group: 1, n: -1 });
        }
      } while (cursor !== null);
      expect(new Set(walked).size).toBe(walked.length);
      const untouched = all.filter((id) => id !== 'i001');
      expect(walked.filter((id) => !id.startsWith('new-'))).toEqual(untouched);
      expect(walked).toContain('new-late');
      expect(walked).not.toContain('new-early');
      const first = await c.page({ group: 0 }, { limit: 5 });
      await expectCode(c.page({ group: 1 }, { limit: 5, cursor: first.next }), 'BAD_INPUT');
      const everything = await c.page({}, { limit: 1000 });
      expect(everything.next).toBeNull();
    });

    it('pages through documents whose sort field is missing, in both directions, indexed or not', async () => {
      // Missing fields sort first ascending and last descending; pages must cross that edge
      // without losing or repeating a document, also while documents move across it.
      for (const indexes of [['rank'], []]) {
        const c = h.store.collection(`ranked${indexes.length}`, { indexes });
        const docs = Array.from({ length: 40 }, (_, i) => ({
          id: `r${String(i).padStart(2, '0')}`,
          ...(i % 4 === 0 ? {} : { rank: i % 5 }),
          ...(i % 6 === 0 ? {} : { tie: i % 3 }),
        }));
        await c.insertMany(docs);
        const sorts: Array<Record<string, 1 | -1>> = [{ rank: 1 }, { rank: -1 }, { rank: -1, tie: 1 }, { rank: 1, tie: -1 }];
        for (const sort of sorts) {
          const all = ids((await c.query({}, { sort })) as Array<{ id: string }>);
          for (const limit of [1, 3, 7]) {
            const walked: string[] = [];
            let cursor: string | null = null;
            do {
              const page: { items: Array<Record<string, unknown>>; next: string | null } = await c.page(
                {},
                { sort, limit, cursor },
              );
              walked.push(...page.items.map((d) => d.id as string));
              cursor = page.next;
            } while (cursor !== null);
            expect(walked, `${indexes.join()} ${JSON.stringify(sort)} limit ${limit}`).toEqual(all);
          }
        }
        // A document gaining and one losing the field mid-walk: every other one seen once, in order.
        const sort = { rank: -1 } as const;
        const before = ids((await c.query({}, { sort })) as Array<{ id: string }>);
        const walked: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: { items: Array<Record<string, unknown>>; next: string | null } = await c.page(
            {},
            { sort, limit: 5, cursor },
          );
          walked.push(...page.items.map((d) => d.id as string));
          cursor = page.next;
          if (++pages === 2) {
            await c.set('r04', { id: 'r04', rank: 99 });
            await c.set('r01', { id: 'r01' });
          }
        } while (cursor !== null);
        expect(new Set(walked).size).toBe(walked.length);
        const moved = new Set(['r01', 'r04']);
        expect(walked.filter((id) => !moved.has(id))).toEqual(before.filter((id) => !moved.has(id)));
      }
    });

    it('lists keys in key order with prefix, limit and after', async () => {
      const c = tasks();
      await c.insertMany(fixture());
      expect(await c.keys()).toEqual(['t01', 't02', 't03', 't04', 't05', 't06']);
      expect(await c.keys({ prefix: 't0', after: 't02', limit: 2 })).toEqual(['t03', 't04']);
      await expectCode(c.keys({ limit: -1 }), 'BAD_INPUT');
      await expectCode(c.keys({ after: '' }), 'BAD_INPUT');
    });

    it('deleteWhere removes matches and reports how many', async () => {
      const c = tasks();
      await c.insertMany(fixture());
      expect(await c.deleteWhere({ status: 'todo' })).toBe(3);
      expect(await c.count()).toBe(3);
      expect(await c.deleteWhere({ status: 'todo' })).toBe(0);
      expect(await c.deleteWhere({})).toBe(3);
    });

    it('insertMany and upsertMany are all or nothing', async () => {
      const c = tasks();
      const docs = fixture();
      await expectCode(c.insertMany([docs[0]!, { ...docs[1]!, status: 'bogus' } as never]), 'VALIDATION_FAILED');
      await expectCode(c.insertMany([docs[0]!, docs[1]!, docs[0]!]), 'CONFLICT');
      expect(await c.count()).toBe(0);
      await c.insertMany(docs.slice(0, 3));
      await expectCode(c.insertMany([docs[3]!, docs[2]!]), 'CONFLICT');
      expect(await c.exists('t04')).toBe(false);
      const out = await c.upsertMany([{ ...docs[2]!, title: 'x' }, docs[3]!]);
      expect(ids(out)).toEqual(['t03', 't04']);
      expect((await c.get('t03'))!.title).toBe('x');
      expect(await c.count()).toBe(4);
    });

    it('dedupe keeps the newest of each group', async () => {
      const deployments = h.store.collection('deployments', { key: 'recordId' });
      for (let i = 0; i < 30; i++) {
        h.clock.advance(10);
        await deployments.insert({ id: `d${i % 10}`, repoName: 'app', status: i < 20 ? 'pending' : 'success' });
      }
      await deployments.insert({ repoName: 'no id' });
      expect(await deployments.dedupe()).toBe(20);
      expect(await deployments.count()).toBe(11);
      expect(await deployments.count({ status: 'success' })).toBe(10);
      expect(await deployments.dedupe({ by: 'id' })).toBe(0);
      expect(await deployments.dedupe({ by: ['repoName'], keep: 'oldest' })).toBe(9);
      await expectCode(deployments.dedupe({ by: [] }), 'BAD_INPUT');
    });

    it('reports changes to watchers with decoded documents', async () => {
      const c = tasks();
      const seen: string[] = [];
      const stop = c.watch((change) => seen.push(`${change.type}:${change.key}:${change.value?.createdAt instanceof Date}`));
      await c.insert(fixture()[0]!);
      await c.delete('t01');
      await new Promise((r) => setTimeout(r, 30));
      stop();
      expect(seen).toEqual(['put:t01:true', 'delete:t01:false']);
    });
  });
}
