import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../store.js';
import type { ChangeEvent, Driver } from '../drivers/driver.js';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';

/**
 * Local change events: every committed change reaches `watch` once, in commit order; reads,
 * failed batches and read-only transactions emit nothing; a `reset` from the driver reaches
 * the kv namespace or collection it names as `{ type: 'reset', key: '' }`.
 */
export function watchSuite(factory: DriverFactory): void {
  describe('watch (local)', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });

    it('delivers every committed change once, in commit order, and nothing after stop', async () => {
      const kv = h.store.kv<number>('w');
      const seen: string[] = [];
      const stop = kv.watch((c) => seen.push(`${c.type}:${c.key}:${c.version}:${c.origin}`));
      const expected: string[] = [];
      for (let i = 0; i < 200; i++) {
        const key = `k${i % 17}`;
        if (i % 5 === 4) {
          if (await kv.delete(key)) expected.push(`delete:${key}:null:local`);
        } else {
          const entry = await kv.set(key, i);
          expected.push(`put:${key}:${entry.version}:local`);
        }
      }
      await kv.setMany([
        ['m1', 1],
        ['m2', 2],
      ]);
      expected.push('put:m1:1:local', 'put:m2:1:local');
      await kv.get('k1');
      await kv.list();
      await h.store.kv('elsewhere').set('x', 1);
      expect(seen).toEqual(expected);
      stop();
      await kv.set('late', 1);
      expect(seen).toEqual(expected);
    });

    it('announces a record the sweeper removes as a delete, bounded purges and collections included', async () => {
      const kv = h.store.kv<number>('w');
      const docs = h.store.collection('wc', { ttl: 1_000 });
      const seen: string[] = [];
      const stops = [kv.watch((c) => seen.push(`${c.type}:${c.key}`)), docs.watch((c) => seen.push(`doc ${c.type}:${c.key}`))];
      await kv.set('short', 1, { ttl: 1_000 });
      await kv.set('short2', 1, { ttl: 1_000 });
      await kv.set('stay', 1);
      await docs.insert({ id: 'd' });
      seen.length = 0;
      h.clock.advance(5_000);
      // Expiry itself is silent (the record is already invisible); its removal is announced.
      expect(await h.store.driver.purgeExpired(h.clock.now, 1)).toBe(1);
      expect(seen).toHaveLength(1);
      expect(await h.store.purgeExpired()).toBe(2);
      expect(seen.sort()).toEqual(['delete:short', 'delete:short2', 'doc delete:d']);
      for (const stop of stops) stop();
    });

    it('reports a transaction once it commits, and nothing for one that only reads or fails', async () => {
      const kv = h.store.kv<number>('w');
      await kv.set('a', 1);
      const seen: string[] = [];
      const stop = kv.watch((c) => seen.push(`${c.type}:${c.key}`));
      await h.store.transaction(async (tx) => {
        await tx.kv('w').get('a');
        await tx.kv('w').list();
      });
      await expect(
        h.store.transaction(async (tx) => {
          await tx.kv('w').set('b', 1);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(seen).toEqual([]);
      await h.store.transaction(async (tx) => {
        await tx.kv('w').set('b', 2);
        expect(seen).toEqual([]); // not before the commit
        await tx.kv('w').delete('a');
      });
      expect(seen).toEqual(['put:b', 'delete:a']);
      stop();
    });

    it('passes a reset from the driver to the kv namespace and collection it names', async () => {
      const inner = h.store.driver;
      const listeners = new Set<(event: ChangeEvent) => void>();
      const driver: Driver = {
        name: inner.name,
        capabilities: inner.capabilities,
        ensureSpace: (space, spec) => inner.ensureSpace(space, spec),
        spaces: () => inner.spaces(),
        get: (space, key, now) => inner.get(space, key, now),
        getMany: (space, keys, now) => inner.getMany(space, keys, now),
        scan: (space, query, now) => inner.scan(space, query, now),
        count: (space, query, now) => inner.count(space, query, now),
        batch: (ops, now, options) => inner.batch(ops, now, options),
        purgeExpired: (now, limit) => inner.purgeExpired(now, limit),
        watch(listener) {
          listeners.add(listener);
          const stop = inner.watch(listener);
          return () => {
            listeners.delete(listener);
            stop();
          };
        },
        stats: () => inner.stats(),
        verify: () => inner.verify(),
        close: () => inner.close(),
      };
      const store = await openStore({ driver, clock: h.clock.fn, sweepInterval: false });
      const kvSeen: unknown[] = [];
      const docSeen: unknown[] = [];
      const stopKv = store.kv('w').watch((c) => kvSeen.push(c));
      const stopDocs = store.collection('docs').watch((c) => docSeen.push(c));
      const emit = (space: string): void => {
        for (const l of listeners) l({ space, key: '', type: 'reset', version: null, origin: 'remote' });
      };
      emit('kv.w');
      emit('c.docs');
      emit('kv.other');
      await store.kv('w').set('after', 1);
      // Each change names its space, so one listener on several knows which to re-read.
      const reset = { type: 'reset', key: '', version: null, origin: 'remote' };
      expect(kvSeen).toEqual([
        { ...reset, space: 'kv.w' },
        expect.objectContaining({ type: 'put', space: 'kv.w', key: 'after' }),
      ]);
      expect(docSeen).toEqual([{ ...reset, space: 'c.docs' }]);
      stopKv();
      stopDocs();
      expect(listeners.size).toBe(0);
    });
  });
}
