// store.restore(backup, { toTime, dryRun }) end to end over real backups (store.backup): the
// newest backup at or before toTime from a directory, the journal replayed onto it in the
// restore's one atomic swap; exact to the noted time on sqlite, file and memory (and with
// encryption); refusals leave the store unchanged; bad input at the entry point.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strata } from '../reliability/helpers.js';
import { DRIVERS, dumpAll, expectCode, rawDriver, testClock, userView } from './journal-helpers.js';

const { openStore } = strata;
const KEYS = `k1:${Buffer.alloc(32, 5).toString('base64')}`;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-pitr-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each(DRIVERS)('store.restore with toTime on $name', ({ url }) => {
  for (const encrypt of [false, true]) {
    it(`picks the newest backup at or before toTime and replays the journal exactly${encrypt ? ' (encrypted)' : ''}`, async () => {
      const clock = testClock();
      const backups = join(dir, 'backups');
      const store = await openStore({
        url: url(dir),
        journal: { retention: '7d' },
        sweepInterval: false,
        clock: clock.now,
        ...(encrypt ? { encryption: { keys: KEYS } } : {}),
      });
      const kv = store.kv<unknown>('app', encrypt ? { encrypt: true } : undefined);
      const docs = store.collection('docs');
      await kv.set('v', 1);
      await docs.insert({ id: 'a', n: 1 });
      clock.tick();
      const first = await store.backup({ to: backups });
      clock.tick();
      await kv.set('v', 2);
      await docs.insert({ id: 'b', n: 2 });
      clock.tick();
      const noted = new Date(clock.now());
      const then = userView(await dumpAll(rawDriver(store), clock.now()));
      clock.tick();
      await kv.delete('v');
      await docs.delete('a');
      await kv.set('late', true);
      clock.tick();
      const second = await store.backup({ to: backups }); // after toTime: not the one used
      clock.tick();
      await docs.insert({ id: 'c', n: 3 });
      clock.tick();
      const raw = rawDriver(store);
      const before = await dumpAll(raw, clock.now());

      const dry = await store.restore(backups, { toTime: noted, dryRun: true });
      expect(dry).toMatchObject({ id: first.id, dryRun: true });
      expect(dry.pointInTime).toMatchObject({ backupAt: first.at.getTime(), toTime: noted.getTime(), entries: 2 });
      expect(await dumpAll(raw, clock.now())).toEqual(before);

      const done = await store.restore(backups, { toTime: noted });
      expect(done.id).toBe(first.id);
      expect(done.id).not.toBe(second.id);
      expect(userView(await dumpAll(raw, clock.now()))).toEqual(then);
      expect(await kv.get('v')).toBe(2);
      expect(await kv.get('late')).toBeNull();
      expect((await docs.query({}, { sort: { id: 1 } })).map((d) => d.id)).toEqual(['a', 'b']);

      // By id (the given backup), after the restore: the journal goes on from the restored point.
      await kv.set('again', 1);
      clock.tick();
      const at = new Date(clock.now());
      const byId = await store.restore(first.id, { dir: backups, toTime: at });
      expect(byId.pointInTime!.toSeq).toBe(done.pointInTime!.toSeq + 1);
      expect(await kv.get('again')).toBe(1);
      await store.close();
    });
  }
});

describe('store.restore with toTime refuses, store unchanged', () => {
  async function setup() {
    const clock = testClock();
    const backups = join(dir, 'backups');
    const store = await openStore({
      url: `sqlite:${join(dir, 's.db')}`,
      journal: { retention: '7d' },
      sweepInterval: false,
      clock: clock.now,
    });
    await store.kv('app').set('a', 1);
    clock.tick();
    const backup = await store.backup({ to: backups });
    clock.tick();
    await store.kv('app').set('b', 2);
    await store.kv('app').set('c', 3);
    clock.tick();
    return { clock, store, backups, backup, raw: rawDriver(store) };
  }

  it('bad input, a gap, no backup early enough', async () => {
    const s = await setup();
    const before = await dumpAll(s.raw, s.clock.now());
    const now = new Date(s.clock.now());
    await expectCode(s.store.restore(s.backups, { toTime: 'not a date' as never }), 'BAD_INPUT');
    await expectCode(s.store.restore(s.backups, { toTime: now, frobnicate: 1 } as never), 'BAD_INPUT');
    await expectCode(s.store.restore(s.backups, { toTime: new Date(s.clock.now() + 3_600_000) }), 'BAD_INPUT');
    await expectCode(s.store.restore(s.backup.id, { dir: s.backups, toTime: new Date(s.backup.at.getTime() - 1) }), 'BAD_INPUT');
    await expectCode(s.store.restore(s.backups, { toTime: new Date(s.backup.at.getTime() - 1) }), 'NOT_FOUND');
    const second = (await s.raw.scan('meta.journal', {}, s.clock.now()))[1]!;
    await s.raw.batch([{ type: 'delete', space: 'meta.journal', key: second.key }], s.clock.now());
    const damaged = await dumpAll(s.raw, s.clock.now());
    await expectCode(s.store.restore(s.backups, { toTime: now }), 'CORRUPT');
    await expectCode(s.store.restore(s.backups, { toTime: now, dryRun: true }), 'CORRUPT');
    expect(await dumpAll(s.raw, s.clock.now())).toEqual(damaged);
    damaged.delete('meta.journal');
    before.delete('meta.journal');
    expect(damaged).toEqual(before);
    await s.store.close();
  });

  it('a store without a journal: NOT_FOUND', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'plain.db')}`, sweepInterval: false });
    await store.kv('app').set('a', 1);
    const backup = await store.backup({ to: join(dir, 'b') });
    await expectCode(store.restore(backup.id, { dir: join(dir, 'b'), toTime: new Date() }), 'NOT_FOUND');
    expect(await store.kv('app').get('a')).toBe(1);
    await store.close();
  });
});
