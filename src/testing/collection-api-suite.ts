import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';

const Task = z.object({
  id: z.string(),
  title: z.string(),
  status: z.enum(['todo', 'doing', 'done']),
  priority: z.number().optional(),
  createdAt: z.string().optional(),
});

type TaskIn = z.input<typeof Task>;

const task = (i: number, over: Partial<TaskIn> = {}): TaskIn => ({
  id: `t${String(i).padStart(3, '0')}`,
  title: `task ${i}`,
  status: i % 3 === 0 ? 'done' : 'todo',
  priority: i % 5,
  ...over,
});

/**
 * The collection methods added in 2026-12 (updateWhere, iterate, clear, drop, verify,
 * dedupe keep-by-field), their option checks and error paths, on every driver.
 */
export function collectionApiSuite(factory: DriverFactory): void {
  describe('collection api', () => {
    let h: Harness;
    const tasks = () => h.store.collection('tasks', { schema: Task, indexes: ['status'] });
    const fill = async (n: number) => tasks().insertMany(Array.from({ length: n }, (_, i) => task(i)));
    const ids = (docs: Array<{ id: string }>) => docs.map((d) => d.id);
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });

    describe('updateWhere', () => {
      it('patches every match, returns how many changed, leaves the rest', async () => {
        await fill(12);
        const before = await tasks().query({ status: 'done' });
        expect(await tasks().updateWhere({ status: 'todo' }, { status: 'doing', priority: 9 })).toBe(8);
        expect(await tasks().count({ status: 'doing' })).toBe(8);
        expect(await tasks().count({ status: 'todo' })).toBe(0);
        expect(await tasks().query({ status: 'done' })).toEqual(before);
        const one = await tasks().getEntry('t001');
        expect(one?.value).toEqual({ ...task(1), status: 'doing', priority: 9 });
        expect(one?.version).toBe(2);
        // Documents the patch does not change are not rewritten or counted.
        expect(await tasks().updateWhere({ status: 'doing' }, { priority: 9 })).toBe(0);
        expect((await tasks().getEntry('t001'))?.version).toBe(2);
        expect(await tasks().updateWhere({ status: 'nope' }, { priority: 1 })).toBe(0);
      });

      it('spans many pages in one atomic batch', async () => {
        await fill(1200);
        expect(await tasks().updateWhere({}, { title: 'same' })).toBe(1200);
        expect(await tasks().count({ title: 'same' })).toBe(1200);
      });

      it('changes nothing when one patched document fails the schema', async () => {
        const c = h.store.collection('strict', {
          schema: z.object({ id: z.string(), n: z.number(), max: z.number() }).refine((d) => d.n <= d.max),
        });
        await c.insertMany([
          { id: 'a', n: 1, max: 10 },
          { id: 'b', n: 1, max: 2 },
          { id: 'c', n: 1, max: 10 },
        ]);
        await expectCode(c.updateWhere({}, { n: 5 }), 'VALIDATION_FAILED');
        expect(await c.query()).toEqual([
          { id: 'a', n: 1, max: 10 },
          { id: 'b', n: 1, max: 2 },
          { id: 'c', n: 1, max: 10 },
        ]);
        await fill(3);
        await expectCode(tasks().updateWhere({}, { status: 'nope' } as never), 'VALIDATION_FAILED');
        expect(await tasks().count({ status: 'todo' })).toBe(2);
      });

      it('refuses bad filters, bad patches and the key field', async () => {
        await fill(3);
        await expectCode(tasks().updateWhere({ status: { $bogus: 1 } }, { priority: 1 }), 'BAD_INPUT');
        await expectCode(tasks().updateWhere(undefined as never, { priority: 1 }), 'BAD_INPUT');
        await expectCode(tasks().updateWhere({}, null as never), 'BAD_INPUT');
        await expectCode(tasks().updateWhere({}, [] as never), 'BAD_INPUT');
        await expectCode(tasks().updateWhere({}, { id: 'x' }), 'BAD_INPUT');
        await expectCode(tasks().updateWhere({}, { priority: Number.NaN }), 'BAD_INPUT');
        const users = h.store.collection('users', { key: 'email' });
        await users.insert({ email: 'a@x', name: 'a' });
        await expectCode(users.updateWhere({}, { email: 'b@x' }), 'BAD_INPUT');
        expect(await users.updateWhere({}, { id: 'fine' })).toBe(1);
        expect(await tasks().count({ priority: 1 })).toBe(1);
      });

      it('keeps createdAt and refreshes updatedAt with timestamps', async () => {
        const c = h.store.collection('stamped', { timestamps: true });
        const a = await c.insert({ id: 'a', n: 1 });
        h.clock.advance(1000);
        expect(await c.updateWhere({ id: 'a' }, { n: 2 })).toBe(1);
        const b = await c.get('a');
        expect(b?.n).toBe(2);
        expect(b?.createdAt).toBe(new Date(a.createdAt as Date).toISOString());
        expect(b?.updatedAt).toBe(new Date(h.clock.now).toISOString());
      });

      it('works inside a transaction, all or nothing', async () => {
        await fill(6);
        await h.store
          .transaction(async (tx) => {
            expect(await tx.collection('tasks').updateWhere({ status: 'todo' }, { priority: 7 })).toBe(4);
            throw new Error('rollback');
          })
          .catch(() => {});
        expect(await tasks().count({ priority: 7 })).toBe(0);
        await h.store.transaction(async (tx) => {
          await tx.collection('tasks').updateWhere({ status: 'todo' }, { priority: 7 });
        });
        expect(await tasks().count({ priority: 7 })).toBe(4);
      });
    });

    describe('iterate', () => {
      it('yields every match in order, paged underneath', async () => {
        await fill(23);
        const seen: string[] = [];
        for await (const t of tasks().iterate({ status: 'todo' }, { pageSize: 4 })) seen.push(t.id);
        expect(seen).toEqual(ids(await tasks().query({ status: 'todo' })));
        const sorted: Array<{ id: string; priority?: number }> = [];
        for await (const t of tasks().iterate({}, { sort: { priority: -1 }, pageSize: 5 })) sorted.push(t);
        expect(ids(sorted)).toEqual(ids(await tasks().query({}, { sort: { priority: -1 } })));
        const none: unknown[] = [];
        for await (const t of tasks().iterate({ status: 'nope' })) none.push(t);
        expect(none).toEqual([]);
      });

      it('is stable under concurrent inserts and deletes (keyset pages)', async () => {
        await fill(20);
        const seen: string[] = [];
        let step = 0;
        for await (const t of tasks().iterate({}, { pageSize: 3 })) {
          seen.push(t.id);
          if (step++ === 4) {
            await tasks().delete('t019');
            await tasks().insert(task(0, { id: 't000a' }));
            await tasks().insert(task(0, { id: 't100' }));
          }
        }
        // t000a sorts before the position: never seen; t100 after it: seen once; t019 gone.
        expect(seen).not.toContain('t000a');
        expect(seen).not.toContain('t019');
        expect(seen.filter((k) => k === 't100')).toEqual(['t100']);
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen.length).toBe(20);
      });

      it('can stop early, and refuses bad filters and options', async () => {
        await fill(10);
        let n = 0;
        for await (const _ of tasks().iterate({}, { pageSize: 2 })) if (++n === 3) break;
        expect(n).toBe(3);
        await expectCode(async () => {
          for await (const _ of tasks().iterate({ $where: 'x' })) void _;
        }, 'BAD_INPUT');
        await expectCode(async () => {
          for await (const _ of tasks().iterate({}, { pageSize: 0 })) void _;
        }, 'BAD_INPUT');
        await expectCode(async () => {
          for await (const _ of tasks().iterate({}, { sortt: { id: 1 } } as never)) void _;
        }, 'BAD_INPUT');
      });

      it('rejects with CLOSED once the store is closed, even mid-way', async () => {
        await fill(10);
        const c = tasks();
        const it = c.iterate({}, { pageSize: 2 });
        expect((await it.next()).done).toBe(false);
        expect((await it.next()).done).toBe(false);
        await h.store.close();
        await expectCode(it.next(), 'CLOSED');
        await expectCode(async () => {
          for await (const _ of c.iterate()) void _;
        }, 'CLOSED');
      });
    });

    describe('clear and drop', () => {
      it('clear removes every document and returns how many', async () => {
        await fill(7);
        expect(await tasks().clear()).toBe(7);
        expect(await tasks().count()).toBe(0);
        expect(await tasks().clear()).toBe(0);
        await tasks().insert(task(1));
        expect(await tasks().count()).toBe(1);
      });

      it('drop removes every document', async () => {
        await fill(3);
        expect(await tasks().drop()).toBe(3);
        expect(await tasks().query()).toEqual([]);
      });

      it('clear inside a rolled-back transaction changes nothing', async () => {
        await fill(4);
        await h.store
          .transaction(async (tx) => {
            await tx.collection('tasks').clear();
            throw new Error('no');
          })
          .catch(() => {});
        expect(await tasks().count()).toBe(4);
      });
    });

    describe('dedupe', () => {
      const deps = () => h.store.collection('deployments', { key: 'recordId' });
      const seed = async () => {
        const c = deps();
        // `id` groups; `createdAt` decides; last write times run the other way.
        await c.insert({ recordId: 'r1', id: 'd1', createdAt: '2026-01-03', n: 1 });
        h.clock.advance(10);
        await c.insert({ recordId: 'r2', id: 'd1', createdAt: '2026-01-01', n: 2 });
        h.clock.advance(10);
        await c.insert({ recordId: 'r3', id: 'd1', createdAt: '2026-01-02', n: 3 });
        h.clock.advance(10);
        await c.insert({ recordId: 'r4', id: 'd2', n: 4 });
        h.clock.advance(10);
        await c.insert({ recordId: 'r5', id: 'd2', createdAt: '2026-01-01', n: 5 });
        h.clock.advance(10);
        await c.insert({ recordId: 'r6', id: 'd2', n: 6 });
        h.clock.advance(10);
        await c.insert({ recordId: 'r7', id: 'd3', createdAt: { odd: true }, n: 7 });
        h.clock.advance(10);
        await c.insert({ recordId: 'r8', id: 'd3', n: 8 });
        h.clock.advance(10);
        await c.insert({ recordId: 'r9', n: 9 });
        return c;
      };

      it('keeps the document with the greatest field value ({ newest: field })', async () => {
        const c = await seed();
        expect(await c.dedupe({ by: 'id', keep: { newest: 'createdAt' } })).toBe(5);
        // d1: the greatest createdAt; d2: the only one with a value; d3: neither has a
        // comparable value, so the last write wins; r9 has no `id` and is left alone.
        expect(await c.keys()).toEqual(['r1', 'r5', 'r8', 'r9']);
      });

      it('keeps the smallest with { oldest: field }, and by write time without a field', async () => {
        const c = await seed();
        expect(await c.dedupe({ by: 'id', keep: { oldest: 'createdAt' } })).toBe(5);
        expect(await c.keys()).toEqual(['r2', 'r5', 'r7', 'r9']);
      });

      it('keeps the last or first written with newest/oldest', async () => {
        const c = await seed();
        expect(await c.dedupe({ by: 'id', keep: 'oldest' })).toBe(5);
        expect(await c.keys()).toEqual(['r1', 'r4', 'r7', 'r9']);
        const d = h.store.collection('more', { key: 'k' });
        await d.insert({ k: 'a', g: 1 });
        h.clock.advance(5);
        await d.insert({ k: 'b', g: 1 });
        expect(await d.dedupe({ by: 'g' })).toBe(1);
        expect(await d.keys()).toEqual(['b']);
      });

      it('orders mixed value types as sorts do (numbers before strings)', async () => {
        const c = h.store.collection('mixed', { key: 'k' });
        await c.insert({ k: 'a', g: 1, at: 'z' });
        await c.insert({ k: 'b', g: 1, at: 99 });
        await c.insert({ k: 'c', g: 1, at: true });
        expect(await c.dedupe({ by: 'g', keep: { newest: 'at' } })).toBe(2);
        expect(await c.keys()).toEqual(['a']);
      });

      it('refuses unknown options and bad keep values', async () => {
        const c = await seed();
        await expectCode(c.dedupe({ byy: 'id' } as never), 'BAD_INPUT');
        await expectCode(c.dedupe({ by: [] }), 'BAD_INPUT');
        await expectCode(c.dedupe({ keep: 'latest' } as never), 'BAD_INPUT');
        await expectCode(c.dedupe({ keep: { newest: 'a', oldest: 'b' } } as never), 'BAD_INPUT');
        await expectCode(c.dedupe({ keep: { latest: 'a' } } as never), 'BAD_INPUT');
        await expectCode(c.dedupe({ keep: { newest: 'a..b' } }), 'BAD_INPUT');
        await expectCode(c.dedupe({ keep: { newest: 3 } } as never), 'BAD_INPUT');
        expect(await c.count()).toBe(9);
      });
    });

    describe('verify and stored documents that fail the schema', () => {
      // Documents written by an older version of the app or another program: straight into the space.
      const plant = async (collection: string, docs: Array<[string, unknown]>) => {
        await h.store.driver.batch(
          docs.map(([key, doc]) => ({
            type: 'put' as const,
            space: `c.${collection}`,
            key,
            value: JSON.stringify(doc),
            expiresAt: null,
          })),
          h.clock.now,
        );
      };

      it('names the key in VALIDATION_FAILED and lists every invalid document', async () => {
        const c = tasks();
        await c.insert(task(1));
        await plant('tasks', [
          ['bad1', { id: 'bad1', title: 1, status: 'todo' }],
          ['t002', task(2)],
          ['bad2', { id: 'bad2', status: 'lost', title: 'x' }],
        ]);
        const error = await expectCode(c.query(), 'VALIDATION_FAILED');
        expect(error.details?.key).toBe('bad1');
        expect(error.message).toContain('"bad1"');
        expect(error.message).toContain('"tasks"');
        expect((await expectCode(c.get('bad2'), 'VALIDATION_FAILED')).details?.key).toBe('bad2');
        const report = await c.verify();
        expect(report.checked).toBe(4);
        expect(report.invalid.map((i) => i.key)).toEqual(['bad1', 'bad2']);
        expect(report.invalid[0]!.issues.map((i) => i.path)).toContain('title');
        expect(report.invalid[1]!.issues.map((i) => i.path)).toContain('status');
        expect(await h.store.collection('empty', { schema: Task }).verify()).toEqual({ checked: 0, invalid: [] });
        // The fix the hint names: replace (or delete) each listed document.
        await c.set('bad1', task(9, { id: 'bad1' }));
        await c.delete('bad2');
        expect(await c.verify()).toEqual({ checked: 3, invalid: [] });
        expect(await c.count()).toBe(3);
      });

      it('reports documents that are not objects or whose key field disagrees with their key', async () => {
        const c = h.store.collection('deployments', { key: 'recordId' });
        await c.insert({ recordId: 'r1', id: 'x' });
        await plant('deployments', [
          ['r2', { recordId: 'other', id: 'y' }],
          ['r3', { id: 'z' }],
          ['r4', [1, 2]],
          ['r5', { recordId: 5 }],
        ]);
        await plant('deployments', [['5', { recordId: 5 }]]);
        const report = await c.verify();
        expect(report.checked).toBe(6);
        expect(report.invalid.map((i) => i.key)).toEqual(['r2', 'r3', 'r4', 'r5']);
        expect(report.invalid[0]!.issues[0]!.path).toBe('recordId');
        expect(report.invalid[2]!.issues[0]!.path).toBe('');
      });
    });

    describe('duplicate keys and option checks', () => {
      it('insert and insertMany of an existing key: CONFLICT that names the key', async () => {
        await fill(3);
        const one = await expectCode(tasks().insert(task(1)), 'CONFLICT');
        expect(one.details?.key).toBe('t001');
        expect(one.message).toContain('t001');
        expect(one.message).toContain('already exists');
        const many = await expectCode(tasks().insertMany([task(7), task(2)]), 'CONFLICT');
        expect(many.details?.key).toBe('t002');
        expect(await tasks().exists('t007')).toBe(false);
      });

      it('insertMany with one key twice: CONFLICT naming both documents, nothing written', async () => {
        const error = await expectCode(tasks().insertMany([task(7), task(8), task(7)]), 'CONFLICT');
        expect(error.message).toContain('in the batch twice (documents 0 and 2)');
        expect(error.details).toMatchObject({ key: 't007', indexes: [0, 2] });
        expect(await tasks().count()).toBe(0);
      });

      it('refuses unknown or mistyped collection options', async () => {
        expect(() => h.store.collection('x', { indexs: ['a'] } as never)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
        expect(() => h.store.collection('x', { timestamp: true } as never)).toThrow(
          expect.objectContaining({ code: 'BAD_INPUT' }),
        );
        expect(() => h.store.collection('x', { indexes: 'status' } as never)).toThrow(
          expect.objectContaining({ code: 'BAD_INPUT' }),
        );
        expect(() => h.store.collection('x', { timestamps: 'yes' } as never)).toThrow(
          expect.objectContaining({ code: 'BAD_INPUT' }),
        );
        expect(() => h.store.collection('x', { key: 5 } as never)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
        expect(() => h.store.collection('x', { quota: { records: 0 } })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
        expect(() => h.store.collection('x', { quota: { rows: 1 } } as never)).toThrow(
          expect.objectContaining({ code: 'BAD_INPUT' }),
        );
      });

      it('refuses unknown options of every method', async () => {
        await fill(2);
        const c = tasks();
        await expectCode(c.query({}, { limt: 1 } as never), 'BAD_INPUT');
        await expectCode(c.page({}, { cursr: null } as never), 'BAD_INPUT');
        await expectCode(c.update('t001', { priority: 1 }, { ifversion: 1 } as never), 'BAD_INPUT');
        await expectCode(c.delete('t001', { ifVerison: 1 } as never), 'BAD_INPUT');
        await expectCode(c.keys({ prefx: 't' } as never), 'BAD_INPUT');
        await expectCode(c.query({}, 'sort' as never), 'BAD_INPUT');
        expect(await c.count()).toBe(2);
        expect((await c.getEntry('t001'))?.version).toBe(1);
      });
    });

    describe('after close', () => {
      it('every new method rejects with CLOSED', async () => {
        const c = tasks();
        await c.insert(task(1));
        await h.store.close();
        await expectCode(c.updateWhere({}, { priority: 1 }), 'CLOSED');
        await expectCode(c.clear(), 'CLOSED');
        await expectCode(c.drop(), 'CLOSED');
        await expectCode(c.verify(), 'CLOSED');
        await expectCode(c.dedupe({ by: 'title' }), 'CLOSED');
        await expectCode(c.get('t001'), 'CLOSED');
      });
    });
  });
}
