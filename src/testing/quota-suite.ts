import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store.js';
import { makeHarness, TestClock, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';

/**
 * Every record of every space (versions and times included), as one comparable text. Empty
 * spaces are left out: a handle declares its space on first use, before it writes, and an
 * empty space is listed nowhere (names(), stats()).
 */
async function records(store: Store, now: number): Promise<string> {
  const out: unknown[] = [];
  for (const space of (await store.driver.spaces()).sort()) {
    const found = await store.driver.scan(space, {}, now);
    if (found.length > 0) out.push(space, found);
  }
  return JSON.stringify(out);
}

/**
 * The bytes of every file under `dir` (SQLite's shared-memory index excepted: readers and
 * writers update it without changing the data).
 */
async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.endsWith('-shm')) continue;
    const path = join(entry.parentPath, entry.name);
    out[path] = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  }
  return out;
}

/**
 * Quotas (`kv(name, { quota })`, `collection(name, { quota })`, `openStore({ quota })`): a
 * write past a limit is QUOTA_EXCEEDED and leaves the store exactly as it was, records and
 * files; only growth is refused, so deletes and shrinking writes pass even over a limit.
 */
export function quotaSuite(factory: DriverFactory): void {
  describe('quotas', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });

    /** Runs `write`, expects QUOTA_EXCEEDED, and checks nothing changed (records and files). */
    async function refused(write: () => Promise<unknown>): Promise<void> {
      // verify() waits for background work (a file store's compaction) to finish.
      await h.store.verify();
      const before = await records(h.store, h.clock.now);
      const disk = await files(h.location);
      const error = await expectCode(write, 'QUOTA_EXCEEDED');
      expect(error.hint).toMatch(/quota/);
      await h.store.verify();
      expect(await records(h.store, h.clock.now)).toBe(before);
      expect(await files(h.location)).toEqual(disk);
    }

    it('a kv namespace holds at most `records` live keys: set, setMany, incr and update past it change nothing', async () => {
      const kv = h.store.kv('q', { quota: { records: 3 } });
      await kv.setMany([
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ]);
      await refused(() => kv.set('d', 4));
      await refused(() => kv.setMany([['d', 4]]));
      await refused(() => kv.incr('n'));
      await refused(() => kv.update('u', () => 1));
      // Overwrites do not add records; other namespaces are not limited.
      await kv.set('a', 10);
      expect(await kv.incr('b', 5)).toBe(7);
      await h.store.kv('free').setMany(Array.from({ length: 10 }, (_, i) => [`k${i}`, i] as [string, number]));
      // A delete makes room for exactly one more.
      expect(await kv.delete('c')).toBe(true);
      await kv.set('d', 4);
      await refused(() => kv.set('e', 5));
      expect(await kv.count()).toBe(3);
      const error = await expectCode(kv.set('e', 5), 'QUOTA_EXCEEDED');
      expect(error.message).toContain('"q"');
      expect(error.details).toMatchObject({ space: 'kv.q', dimension: 'records', limit: 3, usage: 4 });
    });

    it('refuses a setMany whose last item goes past the limit: none of it is written', async () => {
      const kv = h.store.kv('q', { quota: { records: 5 } });
      await kv.set('x', 0);
      await refused(() => kv.setMany(Array.from({ length: 5 }, (_, i) => [`k${i}`, i] as [string, number])));
      expect(await kv.list()).toEqual(['x']);
      await kv.setMany(Array.from({ length: 4 }, (_, i) => [`k${i}`, i] as [string, number]));
      expect(await kv.count()).toBe(5);
    });

    it('limits bytes of keys and values; shrinking writes and deletes pass even when over the limit', async () => {
      // Bytes are stored bytes (a layer such as record MACs adds to them): measured, not assumed.
      const sizeOf = async (value: string): Promise<number> => {
        const probe = h.store.kv('probe');
        await probe.set('k1', value);
        const bytes = (await h.store.stats()).kv.find((s) => s.name === 'probe')!.bytes;
        await probe.drop();
        return bytes;
      };
      const [s10, s1, s16] = [await sizeOf('x'.repeat(10)), await sizeOf('z'), await sizeOf('x'.repeat(16))];
      const limit = s16 + s10 + s1 + 1; // without layers: 14 + 5 + 20 + 1 = 40
      const kv = h.store.kv('b', { quota: { bytes: limit } });
      await kv.set('k1', 'x'.repeat(10)); // 2 + 12 ("..." JSON) = 14
      await kv.set('k2', 'y'.repeat(10)); // 28
      await refused(() => kv.set('k3', 'z'.repeat(10))); // would be 42
      await kv.set('k3', 'z'); // 28 + 5 = 33
      await refused(() => kv.set('k1', 'x'.repeat(30))); // an overwrite that grows past it
      await kv.set('k1', 'x'.repeat(16)); // 39
      expect((await h.store.stats()).kv.find((s) => s.name === 'b')).toMatchObject({ quota: { bytes: limit } });
    });

    it('a space already over its quota (declared later) refuses growth but takes deletes and shrinking updates', async () => {
      const kv = h.store.kv('over');
      await kv.setMany(Array.from({ length: 5 }, (_, i) => [`k${i}`, 'v'.repeat(10)] as [string, string]));
      const limited = h.store.kv('over', { quota: { records: 3 } });
      await refused(() => limited.set('new', 1));
      await limited.set('k0', 'v'); // same count, smaller
      await limited.set('k1', 'v'.repeat(50)); // same count: records do not grow
      await limited.setMany([
        ['k2', 1],
        ['k3', 2],
      ]);
      expect(await limited.delete('k4')).toBe(true);
      await refused(() => limited.set('new', 1)); // 5 after the insert, still over 3
      await limited.deleteMany(['k0', 'k1']);
      await limited.set('new', 1);
      expect(await limited.count()).toBe(3);
    });

    it('expired records not yet swept do not count', async () => {
      const kv = h.store.kv('t', { quota: { records: 2, bytes: 1000 } });
      await kv.set('a', 1, { ttl: 1_000 });
      await kv.set('b', 2, { ttl: 1_000 });
      await refused(() => kv.set('c', 3));
      h.clock.advance(1_000);
      await kv.set('c', 3);
      await kv.set('d', 4);
      await refused(() => kv.set('e', 5));
      // A put over an expired key brings it back: it counts again.
      await refused(() => kv.set('a', 1));
    });

    it('limits collections: insert, insertMany, upsertMany, set and updateWhere that grow past it change nothing', async () => {
      // Room for 3 small documents, not for 60 more bytes in each (stored bytes: measured).
      const probe = h.store.collection('probe');
      await probe.insert({ id: 'a', n: 1 });
      const one = (await h.store.stats()).collections.find((c) => c.name === 'probe')!.bytes;
      await probe.drop();
      const bytes = 3 * one + 100;
      const tasks = h.store.collection('tasks', { quota: { records: 3, bytes } });
      await tasks.insertMany([
        { id: 'a', n: 1 },
        { id: 'b', n: 2 },
      ]);
      await refused(() =>
        tasks.insertMany([
          { id: 'c', n: 3 },
          { id: 'd', n: 4 },
        ]),
      );
      await refused(() =>
        tasks.upsertMany([
          { id: 'a', n: 10 },
          { id: 'c', n: 3 },
          { id: 'd', n: 4 },
        ]),
      );
      await tasks.insert({ id: 'c', n: 3 });
      await refused(() => tasks.insert({ id: 'd', n: 4 }));
      await refused(() => tasks.set('d', { id: 'd', n: 4 }));
      await refused(() => tasks.updateWhere({}, { pad: 'p'.repeat(60) }));
      await tasks.upsertMany([
        { id: 'a', n: 11 },
        { id: 'b', n: 12 },
      ]);
      expect(await tasks.count()).toBe(3);
      const error = await expectCode(tasks.insert({ id: 'd' }), 'QUOTA_EXCEEDED');
      expect(error.message).toContain('collection "tasks"');
      const stats = await h.store.stats();
      expect(stats.collections.find((c) => c.name === 'tasks')).toMatchObject({ records: 3, quota: { records: 3, bytes } });
    });

    it('a transaction that takes a space past its quota commits nothing, in any space', async () => {
      const kv = h.store.kv('q', { quota: { records: 2 } });
      const docs = h.store.collection('docs', { quota: { records: 2 } });
      await kv.set('a', 1);
      await docs.insert({ id: 'd0' });
      await h.store.kv('other').set('y', 0);
      await refused(() =>
        h.store.transaction(async (tx) => {
          await tx.kv('other').set('x', 1);
          await tx.kv('q').set('b', 2);
          await tx.kv('q').set('c', 3);
        }),
      );
      await refused(() =>
        h.store.transaction(async (tx) => {
          await tx.kv('q').delete('a');
          await tx.collection('docs').insert({ id: 'd1' });
          await tx.collection('docs').insert({ id: 'd2' });
        }),
      );
      // Within the limits, or growing one space while another shrinks: committed.
      await h.store.transaction(async (tx) => {
        await tx.kv('q').set('b', 2);
        await tx.collection('docs').insert({ id: 'd1' });
      });
      expect(await kv.list()).toEqual(['a', 'b']);
      expect(await docs.count()).toBe(2);
      expect(await h.store.kv('other').list()).toEqual(['y']);
    });

    it('a quota is declared once per process: the same one again is fine, another is BAD_INPUT', () => {
      h.store.kv('q', { quota: { records: 2 } });
      h.store.kv('q', { quota: { records: 2 } });
      h.store.kv('q');
      expect(() => h.store.kv('q', { quota: { records: 3 } })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
      expect(() => h.store.kv('q', { quota: { records: 2, bytes: 10 } })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
      h.store.collection('c', { quota: { bytes: 100 } });
      expect(() => h.store.collection('c', { quota: { bytes: 101 } })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
      expect(() => h.store.collection('c', {})).not.toThrow(); // no options: the declared ones
    });

    describe('store-wide', () => {
      let dir: string;
      let clock: TestClock;
      let store: Store | undefined;
      beforeEach(async () => {
        dir = await mkdtemp(join(tmpdir(), 'strata-conf-quota-'));
        clock = new TestClock();
      });
      afterEach(async () => {
        await store?.close();
        await rm(dir, { recursive: true, force: true });
      });
      const open = async (quota: unknown): Promise<Store> =>
        (store = await openStore({ driver: await factory(dir), clock: clock.fn, sweepInterval: false, quota } as never));

      it('limits every kv namespace and collection together, not the store internals', async () => {
        const s = await open({ records: 4 });
        expect((await s.stats()).quota).toEqual({ records: 4 });
        // A remembered collection declaration (meta.*) does not count.
        const docs = s.collection('docs', { key: 'id', indexes: ['n'] });
        await docs.insert({ id: 'a', n: 1 });
        await s.kv('one').setMany([
          ['a', 1],
          ['b', 2],
        ]);
        await s.kv('two').set('a', 1);
        const before = await records(s, clock.now);
        const error = await expectCode(s.kv('three').set('a', 1), 'QUOTA_EXCEEDED');
        expect(error.message).toContain('the store');
        await expectCode(docs.insert({ id: 'b', n: 2 }), 'QUOTA_EXCEEDED');
        await expectCode(
          s.transaction(async (tx) => {
            await tx.kv('one').delete('a');
            await tx.kv('two').set('b', 1);
            await tx.kv('two').set('c', 1);
          }),
          'QUOTA_EXCEEDED',
        );
        expect(await records(s, clock.now)).toBe(before);
        await s.kv('one').delete('a');
        await s.kv('three').set('a', 1);
      });

      it('applies with a namespace quota: whichever is reached first refuses', async () => {
        const s = await open({ bytes: 10_000 });
        const kv = s.kv('small', { quota: { records: 1 } });
        await kv.set('a', 1);
        await expectCode(kv.set('b', 1), 'QUOTA_EXCEEDED');
        await expectCode(s.kv('big').set('a', 'x'.repeat(10_000)), 'QUOTA_EXCEEDED');
        await s.kv('big').set('a', 'x'.repeat(1_000));
      });

      it('refuses a malformed quota with BAD_INPUT', async () => {
        for (const quota of [{}, { records: 0 }, { bytes: 2 ** 60 }, { records: '5' }, { records: 1, other: 1 }, 'big']) {
          const driver = await factory(dir);
          await expectCode(openStore({ driver, quota } as never), 'BAD_INPUT');
          await driver.close();
        }
      });
    });
  });
}
