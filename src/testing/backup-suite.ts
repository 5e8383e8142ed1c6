import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../store.js';
import type { ChangeEvent, RawRecord } from '../drivers/driver.js';
import { bottomDriver, loadRecords, snapshotRecords } from '../ops/image.js';
import { readCryptoState } from '../crypto/state.js';
import { makeHarness, withoutStamps, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';

/** Every record of every space below the encryption layer, versions and times included, as one text. */
export async function rawDump(store: Store, now: number): Promise<string> {
  const driver = bottomDriver(store);
  const out: unknown[] = [];
  for (const space of (await driver.spaces()).sort()) {
    const found = await driver.scan(space, {}, now);
    if (found.length > 0) out.push(space, found);
  }
  return JSON.stringify(out, withoutStamps);
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
        // The image carries its store's identity (meta.crypto): when that changed, the target
        // checks and decrypts under it once reopened (loadRecords says so with `reopen`).
        if (loaded.reopen) await target.reopen();
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
      if ((await readCryptoState(bottomDriver(h.store), now))?.state.integrity === 'mac') {
        // Records loaded verbatim below the encryption layer carry no MAC: a signing store refuses them.
        await expectCode(h.store.kv('counts').getEntry('a'), 'INTEGRITY');
        return;
      }
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

    // What import's replace keeps the store's own meta.* spaces with (journal entries included):
    // a driver that ignored it would empty them.
    it("'replace' with mergePrefix merges the spaces that start with it, given or not, and replaces the rest", async () => {
      await fill(h.store);
      const now = h.clock.now;
      await h.store.kv('keep.a').set('old', 1);
      await h.store.kv('keep.a').set('other', 2);
      await h.store.kv('keep.b').set('untouched', 3);
      const record = (space: string, key: string, value: string): RawRecord => ({
        space,
        key,
        value,
        version: 1,
        createdAt: 5,
        updatedAt: 5,
        expiresAt: null,
      });
      const given = [record('kv.counts', 'z', '9'), record('kv.keep.a', 'old', '10'), record('kv.keep.a', 'new', '11')];
      // Unsigned records, see above (read first: this replace empties meta.crypto).
      const mac = (await readCryptoState(bottomDriver(h.store), now))?.state.integrity === 'mac';
      await loadRecords(h.store, given, { mode: 'replace', mergePrefix: 'kv.keep.', now });
      if (mac) return;
      expect(await h.store.kv('counts').get('a')).toBeNull();
      expect(await h.store.kv('counts').get('z')).toBe(9);
      expect(await h.store.collection('tasks').count()).toBe(0);
      expect(await h.store.kv('keep.a').get('old')).toBe(10);
      expect(await h.store.kv('keep.a').get('new')).toBe(11);
      expect(await h.store.kv('keep.a').get('other')).toBe(2);
      expect(await h.store.kv('keep.b').get('untouched')).toBe(3);
      await expectCode(loadRecords(h.store, given, { mode: 'replace', mergePrefix: '', now }), 'BAD_INPUT');
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

    // What verify and restore hold every record to (ops/backup-records.ts) must take what writes
    // accept up to their limits, whatever the driver and its layers (record MACs wrap values).
    it('a backup of values, keys and documents at the limits of writes verifies and restores exactly', async () => {
      let deep: unknown = 'leaf';
      for (let i = 0; i < 256; i++) deep = [deep];
      const longKey = 'é'.repeat(512); // 1,024 UTF-8 bytes
      await h.store.kv('limits').set(longKey, deep);
      await h.store.kv('limits').set('😀', { text: '😀', big: 1e308, small: -5e-324 });
      await h.store.collection('products', { key: 'sku' }).insert({ sku: 's1', id: 'not the key' });
      await h.store.collection('numbered').insert({ id: 7, title: 'a number key' });
      const to = join(h.location, 'backups');
      const now = h.clock.now;
      const before = await rawDump(h.store, now);
      const backup = await h.store.backup({ to });
      expect((await h.store.backups.list({ dir: to }))[0]).toMatchObject({ id: backup.id, records: backup.records });
      await h.store.kv('limits').delete(longKey);
      expect((await h.store.backups.verify(backup.id, { dir: to })).records).toBe(backup.records);
      await h.store.restore(backup.id, { dir: to });
      expect(await rawDump(h.store, now)).toBe(before);
      expect(await h.store.kv('limits').get(longKey)).toEqual(deep);
      expect(await h.store.collection('products', { key: 'sku' }).get('s1')).toMatchObject({ id: 'not the key' });
      expect(await h.store.collection('numbered').get('7')).toMatchObject({ id: 7 });
    });

    it('store.backup() then store.restore() brings back exactly the state backed up', async () => {
      await fill(h.store);
      const to = join(h.location, 'backups');
      const now = h.clock.now;
      const before = await rawDump(h.store, now);
      const backup = await h.store.backup({ to });
      await h.store.kv('counts').set('a', 99);
      await h.store.kv('later').set('x', 1);
      await h.store.collection('tasks').delete('t1');
      const verified = await h.store.backups.verify(backup.id, { dir: to });
      expect(verified.records).toBe(backup.records);
      await h.store.restore(backup.id, { dir: to });
      expect(await rawDump(h.store, now)).toBe(before);
      expect((await h.store.backups.list({ dir: to })).map((b) => b.id)).toEqual([backup.id]);
    });
  });
}
