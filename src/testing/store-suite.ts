import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataError } from '../errors.js';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';

export function storeSuite(factory: DriverFactory): void {
  describe('store', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });

    it('commits a transaction across namespaces and collections', async () => {
      const result = await h.store.transaction(async (tx) => {
        await tx.collection('orders').insert({ id: 'o1', total: 5 });
        const n = await tx.kv('counters').incr('orders');
        await tx.kv('counters').incr('orders');
        expect(await tx.kv('counters').get('orders')).toBe(2);
        expect(await tx.collection('orders').count()).toBe(1);
        return n;
      });
      expect(result).toBe(1);
      expect(await h.store.collection('orders').get('o1')).toEqual({ id: 'o1', total: 5 });
      expect(await h.store.kv('counters').getEntry('orders')).toMatchObject({ value: 2, version: 2 });
    });

    it('writes nothing when the function throws or a write conflicts', async () => {
      await h.store.collection('orders').insert({ id: 'o1' });
      await expect(
        h.store.transaction(async (tx) => {
          await tx.kv('counters').set('a', 1);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      await expectCode(
        h.store.transaction(async (tx) => {
          await tx.kv('counters').set('b', 1);
          await tx.collection('orders').insert({ id: 'o1' });
        }),
        'CONFLICT',
      );
      expect(await h.store.kv('counters').list()).toEqual([]);
    });

    it('sees its own writes and deletes in reads and queries', async () => {
      const items = h.store.collection('items');
      await items.insertMany([
        { id: 'a', n: 1 },
        { id: 'b', n: 2 },
        { id: 'c', n: 3 },
      ]);
      await h.store.transaction(async (tx) => {
        const c = tx.collection<{ id: string; n: number }>('items');
        await c.delete('a');
        await c.update('b', { n: 20 });
        await c.insert({ id: 'd', n: 4 });
        expect((await c.query({ n: { $gt: 2 } }, { sort: { n: -1 } })).map((d) => d.id)).toEqual(['b', 'd', 'c']);
        expect(await c.get('a')).toBeNull();
        expect(await items.get('d')).toBeNull(); // not visible outside before commit
      });
      expect((await items.query({}, { sort: { n: 1 } })).map((d) => d.n)).toEqual([3, 4, 20]);
    });

    it('reruns on conflicting concurrent transactions so no update is lost', async () => {
      const results = await Promise.all(
        Array.from({ length: 15 }, () =>
          h.store.transaction(
            async (tx) => {
              const kv = tx.kv<number>('bank');
              const a = (await kv.get('a')) ?? 100;
              const b = (await kv.get('b')) ?? 0;
              await kv.set('a', a - 1);
              await kv.set('b', b + 1);
              return a;
            },
            { retries: 100 },
          ),
        ),
      );
      expect(results).toHaveLength(15);
      expect(await h.store.kv('bank').getMany(['a', 'b'])).toEqual([85, 15]);
    });

    it('keeps data across close and reopen when persistent', async () => {
      if (!h.store.driver.capabilities.persistent) return;
      await h.store.kv('app').set('token', 'abc', { ttl: '1h' });
      await h.store.collection('tasks', { indexes: ['status'] }).insert({ id: 't', status: 'todo' });
      const store = await h.reopen();
      expect(await store.kv('app').getEntry('token')).toMatchObject({ value: 'abc', version: 1 });
      expect(await store.collection('tasks', { indexes: ['status'] }).query({ status: 'todo' })).toEqual([
        { id: 't', status: 'todo' },
      ]);
    });

    it('shares data and change events between two stores on one location', async () => {
      if (!h.store.driver.capabilities.crossProcess) return;
      const other = await h.other();
      const seen: string[] = [];
      const stop = other.kv('app').watch((c) => seen.push(`${c.type}:${c.key}:${c.origin}`));
      await h.store.kv('app').set('x', 1);
      expect(await other.kv('app').get('x')).toBe(1);
      await other.kv('app').set('x', 2, { ifVersion: 1 });
      await expectCode(h.store.kv('app').set('x', 3, { ifVersion: 1 }), 'CONFLICT');
      if (h.store.driver.capabilities.watchRemote) {
        const deadline = Date.now() + 3000;
        while (!seen.includes('put:x:remote') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(seen).toContain('put:x:remote');
      }
      stop();
    });

    it('answers synchronous point reads exactly like get, when it offers them', async () => {
      const driver = h.store.driver;
      if (driver.capabilities.syncReads !== true) return;
      const kv = h.store.kv('app');
      await kv.set('a', { n: 1 }, { ttl: '1m' });
      await kv.set('b', 2);
      for (const key of ['a', 'b', 'missing']) {
        expect(driver.getSync!('kv.app', key, h.clock.now)).toEqual(await driver.get('kv.app', key, h.clock.now));
      }
      h.clock.advance(60_000);
      expect(driver.getSync!('kv.app', 'a', h.clock.now)).toBeNull();
      expect(await kv.get('a')).toBeNull();
    });

    it('reports stats and a clean verify', async () => {
      await h.store.kv('app').setMany([
        ['a', 1],
        ['b', 'two'],
      ]);
      await h.store.collection('tasks').insertMany([{ id: '1' }, { id: '2' }, { id: '3' }]);
      const stats = await h.store.stats();
      expect(stats.kv).toEqual([expect.objectContaining({ name: 'app', records: 2 })]);
      expect(stats.collections).toEqual([expect.objectContaining({ name: 'tasks', records: 3 })]);
      expect(stats.records).toBe(5);
      expect(stats.bytes).toBeGreaterThan(0);
      const names = await h.store.names();
      expect(names).toEqual({ kv: ['app'], collections: ['tasks'] });
      const report = await h.store.verify();
      expect(report.ok).toBe(true);
      expect(report.issues).toEqual([]);
    });

    it('verify reports its progress: phases in order, never past their total, ending at it', async () => {
      await h.store.kv('app').setMany(Array.from({ length: 30 }, (_, i) => [`k${i}`, i] as [string, number]));
      const seen: Array<{ phase: string; checked: number; total: number }> = [];
      const report = await h.store.verify({ onProgress: (p) => seen.push({ ...p }) });
      expect(report.ok).toBe(true);
      expect(seen.length).toBeGreaterThan(0);
      for (const p of seen) expect(p.checked).toBeLessThanOrEqual(p.total);
      const storage = seen.filter((p) => p.phase === 'storage');
      expect(storage.at(-1)).toEqual(expect.objectContaining({ checked: storage.at(-1)!.total }));
      expect(storage.at(-1)!.total).toBeGreaterThan(0); // records, or files for the file driver: what its report counts
      const phases = seen.map((p) => p.phase);
      expect(phases.indexOf('values') === -1 || phases.lastIndexOf('storage') < phases.indexOf('values')).toBe(true);
      await expectCode(h.store.verify({ onProgress: 'yes' } as never), 'BAD_INPUT');
      await expectCode(h.store.verify({ deep: true } as never), 'BAD_INPUT');
    });

    it('refuses a bad transaction call and every call after close', async () => {
      await expectCode(h.store.transaction('nope' as never), 'BAD_INPUT');
      await h.store.close();
      await expectCode(
        h.store.transaction(async () => 1),
        'CLOSED',
      );
      await expectCode(h.store.verify(), 'CLOSED');
      expect(StrataError.is(await h.store.driver.get('kv.app', 'a', 0).catch((e: unknown) => e), 'CLOSED')).toBe(true);
    });

    it('a clock that returns no epoch milliseconds, or throws, is BAD_INPUT on reads and writes, and nothing is written', async () => {
      const kv = h.store.kv('app');
      const docs = h.store.collection('docs');
      await kv.set('a', 1);
      await docs.insert({ id: 'd', n: 1 });
      const good = h.clock.now;
      const broke = new Error('clock broke');
      const clocks: Array<[string, () => unknown]> = [
        ['NaN', () => Number.NaN],
        ['a string', () => String(good)],
        ['past a Date', () => 1e20],
        ['Infinity', () => Number.POSITIVE_INFINITY],
        [
          'throwing',
          () => {
            throw broke;
          },
        ],
      ];
      for (const [what, clock] of clocks) {
        Object.defineProperty(h.clock, 'now', { get: clock, configurable: true });
        for (const call of [
          () => kv.set('a', 2),
          () => kv.set('b', 2),
          () => kv.get('a'),
          () => docs.upsert({ id: 'd', n: 2 }),
        ]) {
          const error = await call().then(
            () => null,
            (e: unknown) => e,
          );
          expect(StrataError.is(error, 'BAD_INPUT'), `${what}: ${String(error)}`).toBe(true);
          if (what === 'throwing') expect((error as StrataError).cause).toBe(broke);
        }
        Object.defineProperty(h.clock, 'now', { value: good, writable: true, configurable: true });
      }
      expect(await kv.getEntry('a')).toMatchObject({ value: 1, version: 1 });
      expect(await kv.get('b')).toBeNull();
      expect(await docs.getEntry('d')).toMatchObject({ value: { id: 'd', n: 1 }, version: 1 });
    });
  });
}
