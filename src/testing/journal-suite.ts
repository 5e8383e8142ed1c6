import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store.js';
import type { StoredRecord } from '../drivers/driver.js';
import { bottomDriver, snapshotRecords } from '../ops/image.js';
import { JOURNAL_SPACE, parseEntry, type JournalEntry } from '../ops/journal-entry.js';
import { imageRecords, restoreToTime } from '../ops/pitr-restore.js';
import { makeHarness, withoutStamps, type DriverFactory, type Harness, type StackOptions } from './harness.js';
import { expectCode } from './kv-suite.js';

const JOURNAL = { journal: { retention: '7d' } } as const;

/** The journal's entries; `user`: only those of kv.* and c.* (an encrypted stack journals meta.crypto too). */
async function journalOf(store: Store, now: number, user = true): Promise<JournalEntry[]> {
  const all = (await bottomDriver(store).scan(JOURNAL_SPACE, {}, now)).map((r) => parseEntry(r.key, r.value));
  return user ? all.filter((e) => !e.space.startsWith('meta.')) : all;
}

/** Every live record of the user spaces (kv.*, c.*) below encryption, as one text. */
async function userDump(store: Store, now: number): Promise<string> {
  const driver = bottomDriver(store);
  const out: Array<[string, StoredRecord[]]> = [];
  for (const space of (await driver.spaces()).sort()) {
    if (!space.startsWith('kv.') && !space.startsWith('c.')) continue;
    const found = await driver.scan(space, {}, now);
    if (found.length > 0) out.push([space, found]);
  }
  return JSON.stringify(out, withoutStamps);
}

/**
 * The change journal (ops/journal*.ts): every driver runs the `journal` op in the batch's
 * atomic step, so each committed put and delete gets exactly one entry, numbered without a
 * gap, and a point-in-time restore rebuilds the state at a noted time exactly.
 */
export function journalSuite(factory: DriverFactory, stack: StackOptions = {}): void {
  describe('change journal', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await makeHarness(factory, { ...stack, ...JOURNAL });
    });
    afterEach(async () => {
      await h.dispose();
    });

    it('one entry per committed change, in order, chained; a refused batch writes none', async () => {
      const kv = h.store.kv<number>('j');
      await kv.set('a', 1);
      await kv.setMany([
        ['b', 2],
        ['c', 3],
      ]);
      await kv.delete('b');
      await kv.delete('absent');
      await expectCode(kv.set('a', 5, { ifVersion: 9 }), 'CONFLICT');
      await h.store.transaction(async (tx) => {
        await tx.kv('j').incr('n');
        await tx.collection('docs').insert({ id: 'd1' });
      });
      const log = await journalOf(h.store, h.clock.now);
      expect(log.map((e) => `${e.op} ${e.space}/${e.key}`)).toEqual([
        'put kv.j/a',
        'put kv.j/b',
        'put kv.j/c',
        'delete kv.j/b',
        'put kv.j/n',
        'put c.docs/d1',
      ]);
      const all = await journalOf(h.store, h.clock.now, false);
      expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
      for (let i = 1; i < all.length; i++) expect(all[i]!.prev).toBe(all[i - 1]!.hash);
      const stored = await bottomDriver(h.store).get('kv.j', 'c', h.clock.now);
      expect(log[2]!.record).toEqual({
        value: stored!.value,
        version: stored!.version,
        createdAt: stored!.createdAt,
        updatedAt: stored!.updatedAt,
        expiresAt: stored!.expiresAt,
      });
    });

    it('a point-in-time restore rebuilds the state at the noted time exactly', async () => {
      const kv = h.store.kv<number>('j');
      await kv.set('a', 1);
      h.clock.advance(1000);
      const at = h.clock.now;
      const records = await imageRecords(await snapshotRecords(h.store, { now: at }));
      const journalSeq = Math.max(...[...records.get(JOURNAL_SPACE)!.keys()].map(Number));
      const base = { records, at, journalSeq };
      h.clock.advance(1000);
      await kv.set('a', 2);
      await kv.set('b', 3, { ttl: '1h' });
      h.clock.advance(1000);
      const noted = h.clock.now;
      const then = await userDump(h.store, noted);
      h.clock.advance(1000);
      await kv.delete('a');
      await kv.set('c', 4);
      h.clock.advance(1000);
      const plan = await restoreToTime(h.store, base, noted, { now: h.clock.now });
      expect(plan).toMatchObject({ entries: 2, fromSeq: journalSeq + 1, toSeq: journalSeq + 2 });
      expect(await userDump(h.store, h.clock.now)).toBe(then);
      expect(await kv.get('a')).toBe(2);
    });

    it('a store opened again without the journal option still journals', async () => {
      if (!h.store.driver.capabilities.persistent) return;
      await h.store.kv('j').set('a', 1);
      await h.store.close();
      h.store = await openStore({ ...stack, driver: await h.factory(h.location), clock: h.clock.fn, sweepInterval: false });
      await h.store.kv('j').set('b', 2);
      expect((await journalOf(h.store, h.clock.now)).map((e) => e.key)).toEqual(['a', 'b']);
    });
  });
}
