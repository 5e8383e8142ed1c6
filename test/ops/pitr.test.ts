// Point-in-time restore: write, note the time, write more, delete things, restore to the
// noted time -> exactly the state then (raw dump of the user spaces, below encryption),
// on sqlite, file and memory, with and without encryption; dryRun changes nothing; every gap
// (a deleted entry, a flipped byte, pruned past the backup, another history) and every plan
// that cannot be made is refused with the store unchanged.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strata } from '../reliability/helpers.js';
import type { Store } from '../../src/index.js';
import {
  DRIVERS,
  dumpAll,
  entries,
  expectCode,
  image,
  imageBackup,
  memory,
  pitr,
  rawDriver,
  replay,
  restore,
  testClock,
  userView,
} from './journal-helpers.js';

const { openStore } = strata;
const KEYS = `k1:${Buffer.alloc(32, 3).toString('base64')}`;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-pitr-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes a history with a noted time in the middle; returns the base, the time and the dump then. */
async function history(store: Store, clock: ReturnType<typeof testClock>, encrypt: boolean) {
  const kv = store.kv<unknown>('app', encrypt ? { encrypt: true } : undefined);
  const tasks = store.collection('tasks', { indexes: ['status'] });
  await kv.set('theme', 'dark');
  await kv.set('session', 's1', { ttl: '1h' });
  await tasks.insertMany([
    { id: 't1', status: 'todo' },
    { id: 't2', status: 'todo' },
  ]);
  clock.tick();
  const base = await imageBackup(store, clock.now());
  clock.tick();
  await kv.set('theme', 'light');
  await kv.incr('visits');
  await tasks.update('t1', { status: 'done' });
  await store.transaction(async (tx) => {
    await tx.kv('app').set('tx', true);
    await tx.collection('tasks').insert({ id: 't3', status: 'todo' });
  });
  clock.tick();
  const noted = clock.now();
  const then = userView(await dumpAll(rawDriver(store), noted));
  clock.tick();
  await kv.set('theme', 'blue');
  await kv.delete('tx');
  await kv.incr('visits');
  await tasks.delete('t2');
  await tasks.deleteWhere({ status: 'todo' });
  await store.kv('other').set('late', 1);
  clock.tick();
  return { base, noted, then };
}

describe.each(DRIVERS)('point-in-time restore on $name', ({ url }) => {
  for (const encrypt of [false, true]) {
    it(`restores exactly the state at the noted time${encrypt ? ' (encrypted: ciphertext replays)' : ''}`, async () => {
      const clock = testClock();
      const store = await openStore({
        url: url(dir),
        journal: { retention: '7d' },
        sweepInterval: false,
        clock: clock.now,
        ...(encrypt ? { encryption: { keys: KEYS } } : {}),
      });
      const { base, noted, then } = await history(store, clock, encrypt);
      const raw = rawDriver(store);
      const before = await dumpAll(raw, clock.now());

      const plan = await restore.restoreToTime(store, base, noted, { dryRun: true, now: clock.now() });
      expect(plan).toMatchObject({ backupAt: base.at, toTime: noted, fromSeq: base.journalSeq + 1 });
      expect(plan.entries).toBe(plan.toSeq - base.journalSeq);
      expect(plan.entries).toBeGreaterThanOrEqual(5);
      expect(await dumpAll(raw, clock.now())).toEqual(before); // dryRun changed nothing

      await restore.restoreToTime(store, base, noted, { now: clock.now() });
      expect(userView(await dumpAll(raw, clock.now()))).toEqual(then);
      expect(await store.kv('app').get('theme')).toBe('light');
      expect(await store.kv('app').get('tx')).toBe(true);
      expect(await store.kv('other').get('late')).toBeNull();
      expect((await store.collection('tasks').query({}, { sort: { id: 1 } })).map((t) => t.id)).toEqual(['t1', 't2', 't3']);

      // The same replay onto a scratch driver holding the backup (what store.restore does).
      const scratch = memory.memoryDriver();
      await image.loadRecords(
        scratch,
        [...base.records].flatMap(([space, byKey]) => [...byKey.values()].map((r) => ({ space, ...r }))),
        { mode: 'replace', now: clock.now() },
      );
      const replayPlan = await pitr.planReplay(raw, pitr.recordsSource(base), noted, clock.now());
      await replay.applyJournal(scratch, replayPlan.entries, replayPlan.state, clock.now());
      expect(userView(await dumpAll(scratch, clock.now()))).toEqual(then);
      await scratch.close();

      // The journal goes on from the restored point, chained.
      await store.kv('app').set('after', 1);
      const log = (await raw.scan('meta.journal', {}, clock.now())).map((r) => entries.parseEntry(r.key, r.value));
      expect(log.map((e) => e.seq)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
      expect(log.at(-1)).toMatchObject({ seq: plan.toSeq + 1, key: 'after' });
      for (let i = 1; i < log.length; i++) expect(log[i]!.prev).toBe(log[i - 1]!.hash);
      await store.close();
    });
  }
});

describe('point-in-time restore refuses what it cannot do, store unchanged', () => {
  async function setup(retention: '7d' | '1h' = '7d') {
    const clock = testClock();
    const store = await openStore({
      url: `sqlite:${join(dir, 's.db')}`,
      journal: { retention },
      sweepInterval: false,
      clock: clock.now,
    });
    const h = await history(store, clock, false);
    const raw = rawDriver(store);
    const keys = (await raw.scan('meta.journal', {}, clock.now())).map((r) => r.key);
    return { clock, store, raw, keys, ...h };
  }

  async function refused(s: Awaited<ReturnType<typeof setup>>, code: string, toTime = s.noted): Promise<void> {
    const before = await dumpAll(s.raw, s.clock.now());
    await expectCode(restore.restoreToTime(s.store, s.base, toTime, { now: s.clock.now() }), code);
    await expectCode(restore.restoreToTime(s.store, s.base, toTime, { now: s.clock.now(), dryRun: true }), code);
    expect(await dumpAll(s.raw, s.clock.now())).toEqual(before);
  }

  it('a deleted entry is CORRUPT', async () => {
    const s = await setup();
    await s.raw.batch([{ type: 'delete', space: 'meta.journal', key: s.keys[s.base.journalSeq + 1]! }], s.clock.now());
    await refused(s, 'CORRUPT');
    await s.store.close();
  });

  it('a flipped byte in an entry is CORRUPT', async () => {
    const s = await setup();
    const key = s.keys[s.base.journalSeq + 1]!;
    const entry = await s.raw.get('meta.journal', key, s.clock.now());
    const value = entry!.value.replace('"op":"put"', '"op":"puT"').replace('"version":', '"version":1');
    expect(value).not.toBe(entry!.value);
    await s.raw.batch([{ type: 'put', space: 'meta.journal', key, value, expiresAt: null }], s.clock.now());
    await refused(s, 'CORRUPT');
    await s.store.close();
  });

  it('a journal pruned past the backup is NOT_FOUND', async () => {
    const s = await setup('1h');
    s.clock.tick(2 * 3_600_000);
    await s.store.kv('app').set('much-later', 1); // the newest entry stays; everything before goes
    await s.store.purgeExpired();
    await refused(s, 'NOT_FOUND');
    await s.store.close();
  });

  it('toTime before the backup, in the future, or not a date is BAD_INPUT', async () => {
    const s = await setup();
    await refused(s, 'BAD_INPUT', s.base.at - 1);
    await refused(s, 'BAD_INPUT', s.clock.now() + 60_000);
    for (const bad of ['yesterday', '', null, undefined, {}, Number.NaN, new Date('nope')]) {
      expect(() => pitr.parseToTime(bad, 'store.restore')).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    }
    expect(pitr.parseToTime('2026-12-01T09:00:00Z', 'store.restore')).toBe(Date.UTC(2026, 11, 1, 9));
    await s.store.close();
  });

  it('a backup from before the journal is NOT_FOUND; one from an undone history is BAD_INPUT', async () => {
    const clock = testClock();
    const at = `sqlite:${join(dir, 'late.db')}`;
    const plain = await openStore({ url: at, sweepInterval: false, clock: clock.now });
    await plain.kv('app').set('a', 1);
    const early = await imageBackup(plain, clock.now());
    await plain.close();
    const store = await openStore({ url: at, journal: { retention: '7d' }, sweepInterval: false, clock: clock.now });
    clock.tick();
    await store.kv('app').set('b', 2);
    await expectCode(restore.restoreToTime(store, early, clock.now(), { now: clock.now() }), 'NOT_FOUND');

    const base = await imageBackup(store, clock.now());
    clock.tick();
    await store.kv('app').set('c', 3);
    const noted = clock.now();
    clock.tick();
    await store.kv('app').set('d', 4);
    const later = await imageBackup(store, clock.now()); // holds the entry for d
    clock.tick();
    await restore.restoreToTime(store, base, noted, { now: clock.now() }); // undoes d
    await store.kv('app').set('e', 5); // takes d's seq in the new history
    clock.tick();
    const raw = rawDriver(store);
    const before = await dumpAll(raw, clock.now());
    await expectCode(restore.restoreToTime(store, later, clock.now(), { now: clock.now() }), 'BAD_INPUT');
    expect(await dumpAll(raw, clock.now())).toEqual(before);
    await store.close();
  });
});
