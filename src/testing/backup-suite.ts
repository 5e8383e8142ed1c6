import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../store.js';
import type { ChangeEvent, RawRecord } from '../drivers/driver.js';
import { bottomDriver, loadRecords, snapshotRecords } from '../ops/image.js';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';

/** Every record of every space below the encryption layer, versions and times included, as one text. */
export async function rawDump(store: Store, now: number): Promise<string> {
  const driver = bottomDriver(store);
  const out: unknown[] = [];
  for (const space of (await driver.spaces()).sort()) {
    const found = await driver.scan(space, {}, now);
    if (found.length > 0) out.push(space, found);
  }
  return JSON.stringify(out);
}

async function collect(image: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of image) out.push(r);
  return out;
}

async function fill(store: Store): Promise<void> {
  const kv = store.kv<number>('counts');
  await kv.set('a', 1);
  await kv.set('a', 2);
  await kv.set('b', 3, { ttl: '1h' });
  const tasks = store.collection('tasks', { indexes: ['status'] });
  await tasks.insert({ id: 't1', status: 'open', title: 'one' });
  await tasks.insert({ id: 't2', status: 'done', title: 'two' });
}

/**
 * Whole-store images (ops/image.ts) and, through them, backups: every driver must take a
 * point-in-time image and load one back exactly, atomically, leaving the store unchanged on
 * bad input.
 */
export function backupSuite(factory: DriverFactory): void {
  describe('images (snapshotRecords / loadRecords)', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });

    it('an image holds every record, meta.* included, with versions and times; loading it into an empty store is exact', async () => {
      await fill(h.store);
      const now = h.clock.now;
      const image = await snapshotRecords(h.store, { now });
      expect(image.spaces).toContain('kv.counts');
      const records = await collect(image);
      expect(records.find((r) => r.space === 'kv.counts' && r.key === 'a')?.version).toBe(2);
      expect(records.some((r) => r.space.startsWith('meta.'))).toBe(true);
      const target = await makeHarness(factory);
      try {
        target.clock.now = now;
        await target.store.kv('other').set('x', 1); // replaced away
        const loaded = await loadRecords(target.store, records, { mode: 'replace', now });
        expect(loaded.records).toBe(records.length);
        expect(await rawDump(target.store, now)).toBe(await rawDump(h.store, now));
        expect(await target.store.collection('tasks').get('t1')).toMatchObject({ status: 'open' });
        expect(await target.store.collection('tasks').query({ status: 'done' })).toHaveLength(1);
      } finally {
        await target.dispose();
      }
    });

    it('the image is one point in time: writes after it are not in it', async () => {
      await fill(h.store);
      const image = await snapshotRecords(h.store, { now: h.clock.now });
      await h.store.kv('counts').set('late', 9);
      await h.store.kv('counts').delete('a');
      const records = await collect(image);
      expect(records.some((r) => r.key === 'late')).toBe(false);
      expect(records.some((r) => r.key === 'a')).toBe(true);
    });

    it('close() ends an image early', async () => {
      await fill(h.store);
      const image = await snapshotRecords(h.store, { now: h.clock.now });
      await image.close();
      await image.close();
      expect((await collect(image)).length).toBe(0);
    });

    it("'merge' replaces given keys and keeps the others; 'replace' empties spaces not given", async () => {
      await fill(h.store);
      const now = h.clock.now;
      const given: RawRecord[] = [
        { space: 'kv.counts', key: 'a', value: '40', version: 7, createdAt: 5, updatedAt: 6, expiresAt: null },
        { space: 'kv.fresh', key: 'n', value: '"x"', version: 1, createdAt: 5, updatedAt: 5, expiresAt: null },
      ];
      await loadRecords(h.store, given, { mode: 'merge', now });
      expect(await h.store.kv('counts').getEntry('a')).toMatchObject({
        value: 40,
        version: 7,
        createdAt: new Date(5),
        updatedAt: new Date(6),
      });
      expect(await h.store.kv('counts').get('b')).toBe(3);
      expect(await h.store.kv('fresh').get('n')).toBe('x');
      await loadRecords(h.store, given, { mode: 'replace', now });
      expect(await h.store.kv('counts').get('b')).toBeNull();
      expect(await h.store.collection('tasks').count()).toBe(0);
      expect(await h.store.kv('counts').get('a')).toBe(40);
    });

    it('a bad record anywhere in the stream is BAD_INPUT and changes nothing', async () => {
      await fill(h.store);
      const now = h.clock.now;
      const before = await rawDump(h.store, now);
      const good = (i: number): RawRecord => ({
        space: 'kv.counts',
        key: `k${i}`,
        value: `${i}`,
        version: 1,
        createdAt: 1,
        updatedAt: 1,
        expiresAt: null,
      });
      const bads: unknown[] = [
        { ...good(0), value: '{not json' },
        { ...good(0), version: 0 },
        { ...good(0), space: '../x' },
        { ...good(0), key: 5 },
        { ...good(0), updatedAt: Number.NaN },
        null,
      ];
      for (const bad of bads) {
        async function* source(): AsyncIterable<RawRecord> {
          for (let i = 0; i < 50; i++) yield good(i);
          yield bad as RawRecord;
        }
        await expectCode(loadRecords(h.store, source(), { mode: 'replace', now }), 'BAD_INPUT');
        expect(await rawDump(h.store, now)).toBe(before);
      }
    });

    it('bad options are BAD_INPUT', async () => {
      await expectCode(loadRecords(h.store, [], { mode: 'both' as 'merge' }), 'BAD_INPUT');
      await expectCode(loadRecords(h.store, [], { mode: 'merge', extra: 1 } as never), 'BAD_INPUT');
      await expectCode(loadRecords(h.store, 5 as never, { mode: 'merge' }), 'BAD_INPUT');
      await expectCode(snapshotRecords(h.store, { when: 1 } as never), 'BAD_INPUT');
      await expectCode(snapshotRecords(null as never), 'BAD_INPUT');
    });

    it('watchers of the affected spaces hear of a load', async () => {
      await fill(h.store);
      const events: ChangeEvent[] = [];
      const stop = h.store.kv('counts').watch((c) => events.push(c as unknown as ChangeEvent));
      try {
        await loadRecords(
          h.store,
          [{ space: 'kv.counts', key: 'a', value: '1', version: 9, createdAt: 1, updatedAt: 1, expiresAt: null }],
          {
            mode: 'merge',
            now: h.clock.now,
          },
        );
        await new Promise((r) => setTimeout(r, 20));
        expect(events.length).toBeGreaterThan(0);
      } finally {
        stop();
      }
    });
  });
}
