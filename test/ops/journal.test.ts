// The change journal's write path: one entry per committed put and delete (kv, collections,
// transactions, batches), contiguous seq numbers and a hash chain, remembered by the store
// (a process opened without the option journals too), retention pruning (oldest first, the
// start recorded, the newest kept), and bad input at openStore.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strata } from '../reliability/helpers.js';
import { DRIVERS, entries, expectCode, rawDriver, testClock } from './journal-helpers.js';
import type { Driver } from '../../src/drivers/driver.js';

const { openStore } = strata;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function journalOf(driver: Driver, now: number) {
  const records = await driver.scan('meta.journal', {}, now);
  return records.map((r) => entries.parseEntry(r.key, r.value));
}

describe.each(DRIVERS)('journal on $name', ({ url }) => {
  it("writes one entry per committed change, contiguous and chained, in the write's own batch", async () => {
    const clock = testClock();
    const store = await openStore({ url: url(dir), journal: { retention: '7d' }, sweepInterval: false, clock: clock.now });
    const kv = store.kv<number>('app');
    await kv.set('a', 1);
    clock.tick();
    await kv.setMany([
      ['b', 2],
      ['c', 3],
    ]);
    await kv.delete('b');
    await kv.delete('never-there'); // changes nothing: no entry
    await store.collection('tasks').insert({ id: 't1', title: 'x' });
    await store.transaction(async (tx) => {
      await tx.kv('app').incr('n');
      await tx.collection('tasks').delete('t1');
    });
    await expect(kv.set('a', 9, { ifVersion: 7 })).rejects.toMatchObject({ code: 'CONFLICT' }); // no entry either
    const log = await journalOf(rawDriver(store), clock.now());
    expect(log.map((e) => [e.seq, e.space, e.key, e.op, e.record?.version ?? null])).toEqual([
      [1, 'kv.app', 'a', 'put', 1],
      [2, 'kv.app', 'b', 'put', 1],
      [3, 'kv.app', 'c', 'put', 1],
      [4, 'kv.app', 'b', 'delete', null],
      [5, 'c.tasks', 't1', 'put', 1],
      [6, 'kv.app', 'n', 'put', 1],
      [7, 'c.tasks', 't1', 'delete', null],
    ]);
    for (let i = 1; i < log.length; i++) expect(log[i]!.prev).toBe(log[i - 1]!.hash);
    const stored = await rawDriver(store).get('kv.app', 'c', clock.now());
    expect(log[2]!.record).toEqual({
      value: stored!.value,
      version: 1,
      createdAt: stored!.createdAt,
      updatedAt: stored!.updatedAt,
      expiresAt: null,
    });
    expect(log[1]!.at).toBe(clock.now());
    await store.close();
  });

  it('keeps ciphertext as ciphertext', async () => {
    const keys = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
    const store = await openStore({ url: url(dir), journal: { retention: '1d' }, encryption: { keys }, sweepInterval: false });
    await store.kv('secrets', { encrypt: true }).set('token', 'plain-secret-text');
    const log = await journalOf(rawDriver(store), Date.now());
    const put = log.find((e) => e.space === 'kv.secrets')!;
    expect(put.record!.value).not.toContain('plain-secret-text');
    expect(JSON.stringify(log)).not.toContain('plain-secret-text');
    await store.close();
  });

  it('prunes by retention from the sweeper: oldest first, start recorded, the newest kept, seq goes on', async () => {
    const clock = testClock();
    const store = await openStore({ url: url(dir), journal: { retention: '1h' }, sweepInterval: false, clock: clock.now });
    const kv = store.kv<number>('app');
    for (let i = 0; i < 5; i++) await kv.set(`k${i}`, i); // seq 1..5 at t0
    clock.tick(30 * 60_000);
    await kv.set('k5', 5); // seq 6 at t0 + 30 min
    clock.tick(45 * 60_000); // t0 + 75 min: 1..5 are older than 1h
    await store.purgeExpired();
    const raw = rawDriver(store);
    expect((await journalOf(raw, clock.now())).map((e) => e.seq)).toEqual([6]);
    const state = JSON.parse((await raw.get('meta.journal-state', 'state', clock.now()))!.value);
    expect(state.start).toBe(6);
    clock.tick(10 * 3_600_000);
    await store.purgeExpired();
    expect((await journalOf(raw, clock.now())).map((e) => e.seq)).toEqual([6]); // the newest stays
    await kv.set('k6', 6);
    const log = await journalOf(raw, clock.now());
    expect(log.map((e) => e.seq)).toEqual([6, 7]);
    expect(log[1]!.prev).toBe(log[0]!.hash);
    await store.close();
  });
});

describe('store.verify checks the journal', () => {
  it('reports a missing entry and a damaged one as CORRUPT', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'v.db')}`, journal: { retention: '7d' }, sweepInterval: false });
    for (let i = 0; i < 5; i++) await store.kv('x').set(`k${i}`, i);
    expect((await store.verify()).ok).toBe(true);
    const raw = rawDriver(store);
    const now = Date.now();
    const third = await raw.get('meta.journal', entries.seqKey(3), now);
    await raw.batch(
      [{ type: 'put', space: 'meta.journal', key: third!.key, value: third!.value.replace('"k2"', '"kX"'), expiresAt: null }],
      now,
    );
    let report = await store.verify();
    expect(report.ok).toBe(false);
    expect(report.issues).toContainEqual(
      expect.objectContaining({ code: 'CORRUPT', space: 'meta.journal', key: entries.seqKey(3) }),
    );
    await raw.batch([{ type: 'delete', space: 'meta.journal', key: entries.seqKey(3) }], now);
    report = await store.verify();
    expect(report.issues).toContainEqual(expect.objectContaining({ code: 'CORRUPT', key: entries.seqKey(3) }));
    await store.close();
  });
});

describe('journal state', () => {
  it('is remembered: a later open without the option journals with the stored retention', async () => {
    const at = join(dir, 's.db');
    const a = await openStore({ url: `sqlite:${at}`, journal: { retention: '2d' }, sweepInterval: false });
    await a.kv('x').set('a', 1);
    await a.close();
    const b = await openStore({ url: `sqlite:${at}`, sweepInterval: false });
    await b.kv('x').set('b', 2);
    const raw = rawDriver(b);
    expect((await journalOf(raw, Date.now())).map((e) => e.key)).toEqual(['a', 'b']);
    expect(JSON.parse((await raw.get('meta.journal-state', 'state', Date.now()))!.value).retentionMs).toBe(2 * 86_400_000);
    await b.close();
    const c = await openStore({ url: `sqlite:${at}`, journal: { retention: '12h' }, sweepInterval: false });
    expect(JSON.parse((await rawDriver(c).get('meta.journal-state', 'state', Date.now()))!.value).retentionMs).toBe(43_200_000);
    await c.close();
  });

  it('a store without a journal writes none', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'n.db')}`, sweepInterval: false });
    await store.kv('x').set('a', 1);
    expect(await store.driver.scan('meta.journal', {}, Date.now())).toEqual([]);
    await store.close();
  });

  it('bad journal options are BAD_INPUT, before anything is opened', async () => {
    const url = `sqlite:${join(dir, 'bad.db')}`;
    for (const journal of [
      { retention: 'soon' },
      { retention: -5 },
      { retention: 0 },
      {},
      { retention: '7d', keep: 3 },
      'yes',
      null,
      true,
      [],
    ]) {
      await expectCode(openStore({ url, journal } as never), 'BAD_INPUT');
    }
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(dir, 'bad.db'))).toBe(false);
  });
});
