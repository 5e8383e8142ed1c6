// Slots missed while the app was down (`missed: 'once' | 'skip'`), and a lease left by a runner
// that died: recorded as abandoned, its slot not run again. The job record is written by hand,
// as a process that ran the job days ago would have left it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Cron } from 'croner';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/index.js';
import { SCHEDULES_SPACE, type JobRecord } from '../../src/ops/lease.js';
import { tableName } from '../../src/drivers/sqlite-spaces.js';
import type { StrataError } from '../../src/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DAY = 86_400_000;
const NIGHTLY = '0 3 * * *';

let dir: string;
let store: Store;
const url = () => `sqlite:${join(dir, 's.db')}`;

/** Writes the record a process that last ran `name` at `lastSlot` would have left. */
async function leaveRecord(name: string, record: Partial<JobRecord> & { lastSlot: number | null }): Promise<void> {
  const seed = await openStore({ url: url(), sweepInterval: false });
  const full: JobRecord = { cron: NIGHTLY, timezone: 'UTC', since: Date.now() - 30 * DAY, running: [], runs: [], ...record };
  await seed.driver.ensureSpace(SCHEDULES_SPACE, {});
  await seed.driver.batch(
    [{ type: 'put', space: SCHEDULES_SPACE, key: name, value: JSON.stringify(full), expiresAt: null }],
    Date.now(),
  );
  await seed.close();
}

const latestNightly = (): number => new Cron(NIGHTLY, { timezone: 'UTC' }).previousRuns(1, new Date())[0]!.getTime();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-missed-'));
});
afterEach(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('missed slots', () => {
  it("missed: 'once' runs the latest slot missed while down, once, right after schedule()", async () => {
    await leaveRecord('nightly', { lastSlot: latestNightly() - 3 * DAY });
    store = await openStore({ url: url(), sweepInterval: false });
    const slots: number[] = [];
    const job = store.schedule(NIGHTLY, 'nightly', (_s, { slot }) => void slots.push(slot.getTime()), {
      timezone: 'UTC',
      missed: 'once',
    });
    await sleep(800);
    expect(slots).toEqual([latestNightly()]);
    await job.stop();
    const [stats] = (await store.stats()).schedules;
    expect(stats!.lastSlot).toBe(new Date(latestNightly()).toISOString());
    expect(stats!.runs[0]).toMatchObject({ outcome: 'ok', slot: new Date(latestNightly()).toISOString() });

    // Scheduling it again (another start of the app) finds nothing missed.
    const again = store.schedule(NIGHTLY, 'nightly', (_s, { slot }) => void slots.push(slot.getTime()), {
      timezone: 'UTC',
      missed: 'once',
    });
    await sleep(500);
    expect(slots).toHaveLength(1);
    await again.stop();
  });

  it("missed: 'skip' (the default) waits for the next slot", async () => {
    await leaveRecord('nightly', { lastSlot: latestNightly() - 3 * DAY });
    store = await openStore({ url: url(), sweepInterval: false });
    let runs = 0;
    const job = store.schedule(NIGHTLY, 'nightly', () => void runs++, { timezone: 'UTC' });
    await sleep(800);
    expect(runs).toBe(0);
    expect(job.nextRun()!.getTime()).toBe(latestNightly() + DAY);
    await job.stop();
  });

  it("a job scheduled for the first time has missed nothing, even with 'once'", async () => {
    store = await openStore({ url: url(), sweepInterval: false });
    let runs = 0;
    const job = store.schedule(NIGHTLY, 'fresh', () => void runs++, { timezone: 'UTC', missed: 'once' });
    await sleep(800);
    expect(runs).toBe(0);
    await job.stop();
    expect((await store.stats()).schedules[0]).toMatchObject({ name: 'fresh', lastSlot: null, runs: [] });
  });

  it('a lease whose runner died is recorded as abandoned when the next slot is claimed; that slot is not rerun', async () => {
    const dead = Date.now() - 120_000;
    const slot = Math.floor(dead / 1000) * 1000;
    await leaveRecord('tick', {
      cron: '* * * * * *',
      timezone: null,
      lastSlot: slot,
      running: [{ slot, owner: 'gone:1:x', process: 'gone:1', startedAt: dead, leaseUntil: dead + 60_000 }],
    });
    store = await openStore({ url: url(), sweepInterval: false });
    const slots: number[] = [];
    const job = store.schedule('* * * * * *', 'tick', (_s, c) => void slots.push(c.slot.getTime()), { missed: 'once' });
    while (slots.length === 0) await sleep(50);
    await job.stop();
    expect(slots.every((s) => s > slot)).toBe(true);
    const { runs } = (await store.stats()).schedules[0]!;
    expect(runs.find((r) => r.outcome === 'abandoned')).toMatchObject({
      slot: new Date(slot).toISOString(),
      process: 'gone:1',
      finishedAt: null,
    });
  });

  it('a damaged job record is shown as damaged in stats and replaced when the job next runs', async () => {
    const seed = await openStore({ url: url(), sweepInterval: false });
    await seed.driver.ensureSpace(SCHEDULES_SPACE, {});
    await seed.driver.batch(
      [{ type: 'put', space: SCHEDULES_SPACE, key: 'tick', value: '{"cron":7}', expiresAt: null }],
      Date.now(),
    );
    expect((await seed.stats()).schedules).toEqual([expect.objectContaining({ name: 'tick', damaged: true })]);
    await seed.close();
    store = await openStore({ url: url(), sweepInterval: false });
    let runs = 0;
    const job = store.schedule('* * * * * *', 'tick', () => void runs++);
    while (runs === 0) await sleep(50);
    await job.stop();
    const [tick] = (await store.stats()).schedules;
    expect(tick!.damaged).toBeUndefined();
    expect(tick!.runs[0]!.outcome).toBe('ok');
  });

  it('a job record that fails its SQLite checksum: stats shows it damaged (others intact); the job repairs it and reports it', async () => {
    await leaveRecord('a', { lastSlot: null });
    await leaveRecord('b', { lastSlot: null });
    const raw = new Database(join(dir, 's.db'));
    raw.prepare(`UPDATE ${tableName(SCHEDULES_SPACE)} SET value = '{}' WHERE key = 'a'`).run();
    raw.close();
    store = await openStore({ url: url(), sweepInterval: false });
    const before = (await store.stats()).schedules;
    expect(before.map((s) => [s.name, s.damaged ?? false])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    const reported: StrataError[] = [];
    let runs = 0;
    const job = store.schedule('* * * * * *', 'a', () => void runs++, { onError: (e) => reported.push(e) });
    while (runs === 0) await sleep(50);
    await job.stop();
    expect(reported[0]?.code).toBe('CORRUPT');
    const [a] = (await store.stats()).schedules;
    expect(a).toMatchObject({ name: 'a', cron: '* * * * * *' });
    expect(a!.damaged).toBeUndefined();
    expect((await store.verify()).ok).toBe(true);
  });
});
