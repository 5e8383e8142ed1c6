// Point-in-time restore under hostile use, on sqlite, file and memory, over real backups
// (store.backup / store.restore): a backup that holds changes made after its own `at` (taken
// while writes went on), an import the journal holds no entries for, a backup from a history
// a restore has undone that is AHEAD of the live journal, toTime edge cases (exactly at a
// backup, exactly at an entry, impossible dates, numbers out of a Date's range), retention
// pruning down to exactly the backup's last entry, and a history of every kind of write
// (transactions, updateWhere, deleteWhere, clear, drop, TTL) restored exactly by content hash.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strata } from '../reliability/helpers.js';
import type { Store } from '../../src/index.js';
import type { SpaceRecords } from '../../src/ops/pitr-replay.js';
import { DRIVERS, dumpAll, expectCode, pitr, rawDriver, testClock, userView } from './journal-helpers.js';

const { openStore } = strata;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-pitr-hostile-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The user spaces and the collection declarations, as one hash: "exactly the state" is equal hashes. */
function stateHash(records: SpaceRecords): string {
  const view = userView(records);
  const specs = [...(records.get('meta.collections')?.values() ?? [])].map((r) => [r.key, r.value]).sort();
  return createHash('sha256')
    .update(JSON.stringify([view, specs]))
    .digest('hex');
}

/** `testClock` that can also be set (back): a backup stamped before a change it holds. */
function settableClock(): { now: () => number; tick(ms?: number): number; set(ms: number): void } {
  let t = Date.UTC(2026, 11, 1, 9, 0, 0);
  return {
    now: () => t,
    tick: (ms = 1000) => (t += ms),
    set: (ms) => {
      t = ms;
    },
  };
}

/** `records` without what has expired at `now`. */
function dropExpired(records: SpaceRecords, now: number): SpaceRecords {
  const out: SpaceRecords = new Map();
  for (const [space, byKey] of records) {
    out.set(space, new Map([...byKey].filter(([, r]) => r.expiresAt === null || r.expiresAt > now)));
  }
  return out;
}

async function open(url: string, clock: { now: () => number }): Promise<Store> {
  return openStore({ url, journal: { retention: '7d' }, sweepInterval: false, clock: clock.now });
}

/** Runs `fn` expecting `code`, and checks that every record (meta.* included) is as it was. */
async function refusedUnchanged(store: Store, code: string, fn: () => Promise<unknown>, now: number): Promise<void> {
  const raw = rawDriver(store);
  const before = await dumpAll(raw, now);
  await expectCode(fn(), code);
  expect(await dumpAll(raw, now)).toEqual(before);
}

describe.each(DRIVERS)('point-in-time restore, hostile cases, on $name', ({ url }) => {
  it('a backup that holds a change made after its own time: refused for it, an older backup used from a directory', async () => {
    const clock = settableClock();
    const store = await open(url(dir), clock);
    const kv = store.kv('app');
    const backups = join(dir, 'backups');
    await kv.set('a', 1);
    clock.tick();
    const older = await store.backup({ to: backups });
    clock.tick();
    await kv.set('b', 2);
    clock.tick();
    const noted = clock.now();
    const then = stateHash(await dumpAll(rawDriver(store), noted));
    // A change made at noted + 1 s lands in a backup stamped `noted`: what a backup taken while
    // another process writes holds (its `at` is read before its snapshot).
    clock.tick();
    await kv.set('late', 'after noted');
    const t = clock.now();
    clock.set(noted); // the backup's clock reads `noted` again (a snapshot taken just after it)
    const racy = await store.backup({ to: backups });
    clock.set(t);
    expect(racy.at.getTime()).toBe(noted);
    clock.tick();
    await kv.set('later', 3);
    clock.tick();
    expect(t).toBeLessThan(clock.now());

    // That backup cannot give the state at `noted`: it holds 'late'. Never replayed over.
    const err = await store.restore(racy.id, { dir: backups, toTime: noted }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_INPUT', details: { reason: 'backup-after-toTime' } });
    await refusedUnchanged(store, 'BAD_INPUT', () => store.restore(racy.id, { dir: backups, toTime: noted }), clock.now());
    await refusedUnchanged(
      store,
      'BAD_INPUT',
      () => store.restore(racy.id, { dir: backups, toTime: noted, dryRun: true }),
      clock.now(),
    );

    // From the directory, the newest backup at or before `noted` that can give it: the older one.
    const dry = await store.restore(backups, { toTime: noted, dryRun: true });
    expect(dry.id).toBe(older.id);
    const done = await store.restore(backups, { toTime: noted });
    expect(done.id).toBe(older.id);
    expect(stateHash(await dumpAll(rawDriver(store), clock.now()))).toBe(then);
    expect(await kv.get('late')).toBeNull();
    expect(await kv.get('b')).toBe(2);

    // A directory whose only backup at or before toTime holds a later change: NOT_FOUND.
    const lone = join(dir, 'lone');
    clock.tick();
    const t2 = clock.now();
    clock.tick();
    await kv.set('late2', 1);
    clock.set(t2);
    await store.backup({ to: lone });
    clock.set(t2 + 5000);
    await refusedUnchanged(store, 'NOT_FOUND', () => store.restore(lone, { toTime: t2 }), clock.now());
    await store.close();
  });

  it('an import the journal holds no entries for is never replayed over (NOT_FOUND); before it, and from a backup after it, exact', async () => {
    const clock = testClock();
    const exportFile = join(dir, 'e.strata');
    const source = await openStore({ url: 'memory:', sweepInterval: false });
    await source.kv('imp').set('x', 'imported');
    await source.collection('idocs').insert({ id: 'i1', n: 1 });
    await source.export(exportFile);
    await source.close();

    const store = await open(url(dir), clock);
    const kv = store.kv('app');
    const backups = join(dir, 'backups');
    await kv.set('a', 1);
    clock.tick();
    const before = await store.backup({ to: backups });
    clock.tick();
    await kv.set('b', 2);
    clock.tick();
    const beforeImport = clock.now();
    const thenBefore = stateHash(await dumpAll(rawDriver(store), beforeImport));
    clock.tick();
    for (const mode of ['merge', 'replace'] as const) {
      await store.import(exportFile, { mode });
      clock.tick();
      await kv.set(`after-${mode}`, 1);
      clock.tick();
    }
    const now = clock.now();
    const live = stateHash(await dumpAll(rawDriver(store), now));

    // Past the import from a backup before it: the result would lack the import. Refused.
    const err = await store.restore(before.id, { dir: backups, toTime: now }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOT_FOUND', details: { reason: 'load-after-backup' } });
    await refusedUnchanged(store, 'NOT_FOUND', () => store.restore(backups, { toTime: now }), now);
    await refusedUnchanged(store, 'NOT_FOUND', () => store.restore(backups, { toTime: now, dryRun: true }), now);

    // A backup taken after the imports brings the store forward exactly.
    const after = await store.backup({ to: backups });
    clock.tick();
    await kv.set('z', 26);
    clock.tick();
    const end = clock.now();
    const liveEnd = stateHash(await dumpAll(rawDriver(store), end));
    expect(liveEnd).not.toBe(live);
    const forward = await store.restore(backups, { toTime: end });
    expect(forward.id).toBe(after.id);
    expect(stateHash(await dumpAll(rawDriver(store), end))).toBe(liveEnd);

    // Before the imports, from the backup before them: exact.
    clock.tick();
    const back = await store.restore(before.id, { dir: backups, toTime: beforeImport });
    expect(back.pointInTime!.toTime).toBe(beforeImport);
    expect(stateHash(await dumpAll(rawDriver(store), clock.now()))).toBe(thenBefore);
    expect(await store.kv('imp').get('x')).toBeNull();
    expect((await store.verify()).ok).toBe(true);
    await store.close();
  });

  it('an import by a process that opened the store before the journal was turned on leaves its mark too', async () => {
    if (url(dir) === 'memory:') return; // one handle per memory store
    const clock = testClock();
    const exportFile = join(dir, 'e.strata');
    const source = await openStore({ url: 'memory:', sweepInterval: false });
    await source.kv('imp').set('x', 'imported');
    await source.export(exportFile);
    await source.close();
    const early = await openStore({ url: url(dir), sweepInterval: false, clock: clock.now }); // no journal yet
    const store = await open(url(dir), clock); // turns it on
    const backups = join(dir, 'backups');
    await store.kv('app').set('a', 1);
    clock.tick();
    await store.backup({ to: backups });
    clock.tick();
    await early.import(exportFile);
    clock.tick();
    await store.kv('app').set('b', 2);
    clock.tick();
    await refusedUnchanged(store, 'NOT_FOUND', () => store.restore(backups, { toTime: clock.now() }), clock.now());
    await early.close();
    await store.close();
  });

  it('an entry committed after an import but stamped before it (another clock) is not replayed without the import', async () => {
    const clock = settableClock();
    const exportFile = join(dir, 'e.strata');
    const source = await openStore({ url: 'memory:', sweepInterval: false });
    await source.kv('imp').set('x', 'imported');
    await source.export(exportFile);
    await source.close();
    const store = await open(url(dir), clock);
    const backups = join(dir, 'backups');
    await store.kv('app').set('a', 1);
    clock.tick();
    await store.backup({ to: backups });
    clock.tick();
    const importAt = clock.tick();
    await store.import(exportFile);
    clock.set(importAt - 500); // a writer whose clock lags: its entry follows the import, stamped before it
    await store.kv('app').set('lagging', 1);
    clock.set(importAt + 1000);
    await refusedUnchanged(store, 'NOT_FOUND', () => store.restore(backups, { toTime: importAt - 100 }), clock.now());
    // Before that entry, the replay ends before the import: allowed, and exact.
    const r = await store.restore(backups, { toTime: importAt - 600 });
    expect(r.pointInTime!.entries).toBe(0);
    expect(await store.kv('imp').get('x')).toBeNull();
    expect(await store.kv('app').get('a')).toBe(1);
    await store.close();
  });

  it('hostile keys replay exactly: __proto__, constructor, unicode, NUL, JSON-looking, backslashes, 1000 bytes', async () => {
    const clock = testClock();
    const store = await open(url(dir), clock);
    const backups = join(dir, 'backups');
    const kv = store.kv<unknown>('app');
    await kv.set('plain', 0);
    clock.tick();
    await store.backup({ to: backups });
    clock.tick();
    const keys = ['__proto__', 'constructor', 'prototype', '日本語🙂', 'a\u0000b', 'k'.repeat(1000), '"at":1', '\\', '..\\..'];
    const value = { v: '"at":99,"seq":1', nested: JSON.parse('{"constructor":{"prototype":{"x":1}}}') as unknown };
    for (const key of keys) await kv.set(key, value);
    await store.collection('docs').insert({ id: '__proto__', n: 1 });
    clock.tick();
    const noted = clock.now();
    const then = stateHash(await dumpAll(rawDriver(store), noted));
    clock.tick();
    for (const key of keys) await kv.delete(key);
    await store.collection('docs').delete('__proto__');
    clock.tick();
    await store.restore(backups, { toTime: noted });
    expect(stateHash(await dumpAll(rawDriver(store), clock.now()))).toBe(then);
    for (const key of keys) expect(await kv.get(key)).toEqual(value);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect((await store.verify()).ok).toBe(true);
    await store.close();
  });

  it('a restore of a backup from before the journal keeps the journal on (it cannot be turned off)', async () => {
    if (url(dir) === 'memory:') return; // a memory store cannot be opened again to turn the journal on
    const clock = testClock();
    const backups = join(dir, 'backups');
    const plain = await openStore({ url: url(dir), sweepInterval: false, clock: clock.now });
    await plain.kv('app').set('a', 1);
    clock.tick();
    const early = await plain.backup({ to: backups });
    clock.tick();
    await plain.close();
    const store = await open(url(dir), clock);
    await store.kv('app').set('b', 2);
    clock.tick();
    await store.restore(early.id, { dir: backups });
    clock.tick();
    await store.kv('app').set('c', 3);
    const raw = rawDriver(store);
    const state = await raw.get('meta.journal-state', 'state', clock.now());
    expect(state).not.toBeNull();
    expect(JSON.parse(state!.value)).toMatchObject({ format: 1, retentionMs: 7 * 86_400_000, start: 1 });
    const log = await raw.scan('meta.journal', {}, clock.now());
    expect(log.map((r) => Number(r.key))).toEqual([1]);
    expect((await store.verify()).ok).toBe(true);
    clock.tick();
    const after = await store.backup({ to: backups });
    clock.tick();
    await store.kv('app').set('d', 4);
    clock.tick();
    const noted = clock.now();
    const then = stateHash(await dumpAll(raw, noted));
    clock.tick();
    await store.close();
    // Another process, opened without the option, journals: the store remembers it.
    const other = await openStore({ url: url(dir), sweepInterval: false, clock: clock.now });
    await other.kv('app').set('e', 5);
    clock.tick();
    expect((await rawDriver(other).scan('meta.journal', {}, clock.now())).length).toBe(3);
    const r = await other.restore(backups, { toTime: noted });
    expect(r.id).toBe(after.id);
    expect(stateHash(await dumpAll(rawDriver(other), clock.now()))).toBe(then);
    await other.close();
  });

  it("another store's backup is never brought forward with this store's journal: BAD_INPUT, store unchanged", async () => {
    const clock = testClock();
    const backups = join(dir, 'backups');
    const otherUrl = url(dir) === 'memory:' ? 'memory:' : url(join(dir, 'other'));
    if (otherUrl !== 'memory:') await mkdir(join(dir, 'other'));
    const other = await openStore({ url: otherUrl, sweepInterval: false, clock: clock.now });
    await other.kv('app').set('theirs', 1); // before its journal: no entry
    clock.tick();
    const otherJournaled = await openStore({
      url: otherUrl,
      sweepInterval: false,
      clock: clock.now,
      journal: { retention: '7d' },
      driver: other.driver,
    });
    clock.tick();
    const foreign = await otherJournaled.backup({ to: backups }); // a journal, no entry yet
    expect(foreign.journalSeq ?? 0).toBe(0);
    const store = await open(url(dir), clock);
    clock.tick();
    await store.kv('app').set('mine', 1);
    clock.tick();
    await refusedUnchanged(
      store,
      'BAD_INPUT',
      () => store.restore(foreign.id, { dir: backups, toTime: clock.now() }),
      clock.now(),
    );
    await store.close();
    await other.close();
  });

  it('a toTime in a period a restore has since undone is refused, not answered with another state', async () => {
    const clock = testClock();
    const store = await open(url(dir), clock);
    const kv = store.kv('app');
    const backups = join(dir, 'backups');
    await kv.set('v', 0);
    clock.tick();
    const base = await store.backup({ to: backups });
    const at: number[] = [];
    for (let i = 1; i <= 3; i++) {
      clock.tick();
      await kv.set('v', i);
      at.push(clock.now());
    }
    clock.tick();
    await store.restore(base.id, { dir: backups, toTime: at[0]! }); // v = 1; the writes of 2 and 3 undone
    expect(await kv.get('v')).toBe(1);
    clock.tick();
    await kv.set('w', 'after');
    clock.tick();
    // v was 2 at at[1]: the journal no longer says so. Refused, never "v = 1".
    await refusedUnchanged(store, 'NOT_FOUND', () => store.restore(base.id, { dir: backups, toTime: at[1]! }), clock.now());
    // Restored again to a time after that restore: the period it undid stays known.
    const afterW = clock.now();
    clock.tick();
    await kv.set('v', 4);
    clock.tick();
    await store.restore(base.id, { dir: backups, toTime: afterW });
    expect(await kv.get('v')).toBe(1);
    expect(await kv.get('w')).toBe('after');
    clock.tick();
    await refusedUnchanged(store, 'NOT_FOUND', () => store.restore(base.id, { dir: backups, toTime: at[2]! }), clock.now());
    // Outside the undone periods: exact.
    await store.restore(base.id, { dir: backups, toTime: at[0]! });
    expect(await kv.get('v')).toBe(1);
    expect(await kv.get('w')).toBeNull();
    clock.tick();
    // A plain restore undoes too: from the backup's time to the restore.
    await kv.set('v', 5);
    clock.tick();
    const five = clock.now();
    clock.tick();
    await store.restore(base.id, { dir: backups }); // v = 0
    clock.tick();
    await kv.set('v', 6);
    clock.tick();
    await refusedUnchanged(store, 'NOT_FOUND', () => store.restore(base.id, { dir: backups, toTime: five }), clock.now());
    const now = clock.now();
    await store.restore(base.id, { dir: backups, toTime: now });
    expect(await kv.get('v')).toBe(6);
    expect(await kv.get('w')).toBeNull();
    await store.close();
  });

  it('a backup from an undone history that is ahead of the live journal: BAD_INPUT, store unchanged', async () => {
    const clock = testClock();
    const store = await open(url(dir), clock);
    const kv = store.kv('app');
    const backups = join(dir, 'backups');
    await kv.set('a', 1);
    clock.tick();
    const early = await store.backup({ to: backups });
    clock.tick();
    for (let i = 0; i < 5; i++) await kv.set(`k${i}`, i);
    clock.tick();
    const ahead = await store.backup({ to: backups });
    clock.tick();
    await store.restore(early.id, { dir: backups }); // back to seq 1: ahead's entries are undone
    clock.tick();
    await kv.set('new', 1);
    clock.tick();
    await refusedUnchanged(store, 'BAD_INPUT', () => store.restore(ahead.id, { dir: backups, toTime: clock.now() }), clock.now());
    await store.close();
  });

  it('toTime exactly at a backup and exactly at an entry is inclusive; impossible dates and out-of-range numbers are BAD_INPUT', async () => {
    const clock = testClock();
    const store = await open(url(dir), clock);
    const kv = store.kv('app');
    const backups = join(dir, 'backups');
    await kv.set('a', 1);
    const backup = await store.backup({ to: backups }); // same ms as the write of a
    const atBackup = backup.at.getTime();
    await kv.set('same-ms', 1); // after the backup, at the backup's very time: included
    clock.tick(1000);
    const entryAt = clock.now();
    await kv.set('b', 2);
    const thenB = stateHash(await dumpAll(rawDriver(store), entryAt));
    clock.tick(1);
    await kv.set('c', 3); // 1 ms after: left out at entryAt
    clock.tick();

    const dry = await store.restore(backups, { toTime: atBackup, dryRun: true });
    expect(dry.pointInTime).toMatchObject({ backupAt: atBackup, toTime: atBackup, entries: 1, firstAt: atBackup });
    const r = await store.restore(backups, { toTime: new Date(entryAt) });
    expect(r.pointInTime).toMatchObject({ entries: 2, lastAt: entryAt });
    expect(stateHash(await dumpAll(rawDriver(store), clock.now()))).toBe(thenB);
    expect(await kv.get('c')).toBeNull();

    const now = clock.now();
    for (const bad of [
      '2026-02-30',
      '2026-02-29T10:00:00Z',
      '2026-12-01T24:00:00Z',
      '2026-12-01T10:60:00Z',
      '2026-12-01T10:00:00+25:00',
      '2026-12-01garbage',
      '1764583200000',
      ' 2026-12-01',
      -1e20,
      1e20,
      8.64e15 + 1,
      Number.POSITIVE_INFINITY,
      new Date(Number.NaN),
      true,
      ['2026-12-01'],
      { valueOf: () => now },
    ]) {
      await refusedUnchanged(store, 'BAD_INPUT', () => store.restore(backups, { toTime: bad as never }), now);
    }
    expect(pitr.parseToTime('2028-02-29T10:00:00Z', 'x')).toBe(Date.UTC(2028, 1, 29, 10));
    expect(pitr.parseToTime('2026-12-01', 'x')).toBe(Date.UTC(2026, 11, 1));
    expect(pitr.parseToTime('2026-12-01T10:00:00.5+01:00', 'x')).toBe(Date.UTC(2026, 11, 1, 9, 0, 0, 500));
    await store.close();
  });

  it('options read once: an inherited dryRun is a dry run for the replay and the swap alike (never a plain restore)', async () => {
    const clock = testClock();
    const store = await open(url(dir), clock);
    const backups = join(dir, 'backups');
    await store.kv('app').set('a', 1);
    clock.tick();
    await store.backup({ to: backups });
    clock.tick();
    await store.kv('app').set('b', 2);
    clock.tick();
    const raw = rawDriver(store);
    const before = await dumpAll(raw, clock.now());
    const options = Object.assign(Object.create({ dryRun: true }) as object, { toTime: clock.now() });
    const r = await store.restore(backups, options);
    expect(r).toMatchObject({ dryRun: true, pointInTime: { entries: 1 } });
    expect(await dumpAll(raw, clock.now())).toEqual(before);
    expect(await store.kv('app').get('b')).toBe(2);
    await store.close();
  });

  it('pruned down to exactly the backup: still restores exactly; one entry further: NOT_FOUND, store unchanged', async () => {
    const clock = testClock();
    const store = await openStore({ url: url(dir), journal: { retention: '1h' }, sweepInterval: false, clock: clock.now });
    const kv = store.kv('app');
    const backups = join(dir, 'backups');
    for (let i = 0; i < 5; i++) await kv.set(`old${i}`, i);
    clock.tick();
    const backup = await store.backup({ to: backups });
    clock.tick(2 * 3_600_000);
    await kv.set('new1', 1);
    await kv.set('new2', 2);
    await store.purgeExpired(); // every entry of the backup goes: the journal starts right after it
    const raw = rawDriver(store);
    const keys = (await raw.scan('meta.journal', {}, clock.now())).map((r) => Number(r.key));
    expect(keys).toEqual([backup.journalSeq! + 1, backup.journalSeq! + 2]);
    const now = clock.now();
    const live = stateHash(await dumpAll(raw, now));
    const done = await store.restore(backups, { toTime: now });
    expect(done.pointInTime).toMatchObject({ entries: 2, fromSeq: backup.journalSeq! + 1 });
    expect(stateHash(await dumpAll(raw, now))).toBe(live);

    clock.tick(2 * 3_600_000);
    await kv.set('new3', 3);
    await store.purgeExpired();
    await refusedUnchanged(store, 'NOT_FOUND', () => store.restore(backups, { toTime: clock.now() }), clock.now());
    await store.close();
  });

  it('every kind of write replays exactly (content hash): transactions, updateWhere, deleteWhere, clear, drop, TTL', async () => {
    const clock = testClock();
    const store = await open(url(dir), clock);
    const backups = join(dir, 'backups');
    const kv = store.kv<unknown>('app');
    const tasks = store.collection('tasks', { indexes: ['status'] });
    await kv.setMany(Array.from({ length: 30 }, (_, i) => [`k${i}`, { i }] as [string, unknown]));
    await tasks.insertMany(Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, status: i % 2 ? 'todo' : 'done', n: i })));
    await store.collection('scratch').insert({ id: 's1' });
    clock.tick();
    await store.backup({ to: backups });
    const times: number[] = [];
    const hashes: string[] = [];
    const states: SpaceRecords[] = [];
    const note = async () => {
      clock.tick();
      times.push(clock.now());
      states.push(await dumpAll(rawDriver(store), clock.now()));
      hashes.push(stateHash(states.at(-1)!));
      clock.tick();
    };
    await kv.set('session', 's', { ttl: '1h' });
    await kv.set('remember', 'me', { ttl: '30d' });
    await tasks.upsert({ id: 'tmp', status: 'todo', n: -1 });
    await tasks.updateWhere({ status: 'todo' }, { status: 'doing' });
    await note();
    await store.transaction(async (tx) => {
      await tx.kv('app').incr('n');
      await tx.collection('tasks').delete('t0');
      await tx.kv('app').delete('k1');
    });
    await tasks.deleteWhere({ n: { $gte: 15 } });
    await note();
    await kv.clear({ prefix: 'k1' });
    await store.collection('scratch').drop();
    await note();
    clock.tick(2 * 3_600_000); // the session expires; the sweeper's purge is not journaled
    await store.purgeExpired();
    await kv.clear();
    await tasks.clear();
    await note();
    expect(new Set(hashes).size).toBe(hashes.length);
    for (let i = times.length - 1; i >= 0; i--) {
      await store.restore(backups, { toTime: times[i]! });
      // What expired since (the 1h session) is gone at any later read, as it would be live.
      const now = clock.now();
      const expected = dropExpired(states[i]!, now);
      expect(userView(await dumpAll(rawDriver(store), now))).toEqual(userView(expected));
      expect(stateHash(await dumpAll(rawDriver(store), now)), `at note ${i}`).toBe(stateHash(expected));
    }
    expect((await store.verify()).ok).toBe(true);
    await store.close();
  });
});

describe('point-in-time restore and SQLite user tables (SQL migrations)', () => {
  it('are not journaled: they come back as the backup holds them, as docs/journal.md says', async () => {
    const sqlite = (await import(new URL('../../dist/drivers/sqlite.js', import.meta.url).href)) as {
      sqliteConnection(driver: unknown): { exec(sql: string): void; prepare(sql: string): { pluck(): { get(): unknown } } };
    };
    const clock = testClock();
    const store = await open(`sqlite:${join(dir, 's.db')}`, clock);
    const backups = join(dir, 'backups');
    const db = () => sqlite.sqliteConnection(rawDriver(store));
    db().exec('CREATE TABLE notes (n INTEGER); INSERT INTO notes VALUES (1)');
    await store.kv('app').set('a', 1);
    clock.tick();
    await store.backup({ to: backups });
    clock.tick();
    db().exec('INSERT INTO notes VALUES (2)');
    await store.kv('app').set('b', 2);
    clock.tick();
    await store.restore(backups, { toTime: clock.now() });
    expect(await store.kv('app').get('b')).toBe(2); // journaled: replayed
    expect(db().prepare('SELECT count(*) FROM notes').pluck().get()).toBe(1); // not journaled: as backed up
    await store.close();
  });
});
