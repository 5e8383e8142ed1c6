// stats() after a runner died: a run whose lease has lapsed is not in progress any more.
// ScheduleStats.running says "Runs in progress", and README "Schedules" says a run whose
// process died is `abandoned` once the lease has lapsed; the next claim records it so, but a
// job nobody schedules any more is never claimed again. Failed before the fix: stats() listed
// the dead lease under `running` (with a leaseUntil in the past) for as long as the record
// stayed, and `strata stats` showed the job's last outcome as `running`. Now stats() shows it
// as that `abandoned` run without writing anything; a live lease is still running. Leases are
// judged by real time, the clock runners write them with, whatever the store's clock says.
// The job record is written by hand, as a process that died mid-run would have left it.
import { afterEach, describe, expect, it } from 'vitest';
import type { ScheduleRun } from '../../src/index.js';
import { SCHEDULES_SPACE, type JobRecord, type Lease } from '../../src/ops/lease.js';
import { DRIVERS, opened, type Opened } from '../store-fixture.js';

const MINUTE = 60_000;
let o: Opened | undefined;
afterEach(async () => {
  await o?.dispose();
  o = undefined;
});

const iso = (ms: number): string => new Date(ms).toISOString();
const ok = (slot: number): ScheduleRun => ({
  slot: iso(slot),
  outcome: 'ok',
  startedAt: iso(slot),
  finishedAt: iso(slot + 10),
  durationMs: 10,
  process: 'host:1',
});

async function leave(o: Opened, name: string, record: JobRecord): Promise<string> {
  await o.store.driver.ensureSpace(SCHEDULES_SPACE, {});
  const value = JSON.stringify(record);
  await o.store.driver.batch([{ type: 'put', space: SCHEDULES_SPACE, key: name, value, expiresAt: null }], Date.now());
  return value;
}

describe('stats() shows a lapsed lease as an abandoned run, not as running', () => {
  for (const driver of DRIVERS) {
    it(`${driver}: the dead run is listed first in runs as abandoned; the live one stays running; nothing is written`, async () => {
      o = await opened(driver);
      const now = Date.now();
      const base = now - 60 * MINUTE;
      const runs = Array.from({ length: 20 }, (_, i) => ok(base + (19 - i) * MINUTE)); // a full history, newest first
      const dead: Lease = {
        slot: now - 5 * MINUTE,
        owner: 'gone:7:x',
        process: 'gone:7',
        startedAt: now - 5 * MINUTE,
        leaseUntil: now - 4 * MINUTE,
      };
      const live: Lease = {
        slot: now - MINUTE,
        owner: 'up:8:y',
        process: 'up:8',
        startedAt: now - MINUTE,
        leaseUntil: now + 10 * MINUTE,
      };
      const value = await leave(o, 'nightly', {
        cron: '* * * * *',
        timezone: 'UTC',
        since: base - MINUTE,
        lastSlot: live.slot,
        running: [dead, live],
        runs,
      });

      const [job] = (await o.store.stats()).schedules;
      expect(job!.running).toEqual([
        { slot: iso(live.slot), process: 'up:8', startedAt: iso(live.startedAt), leaseUntil: iso(live.leaseUntil) },
      ]);
      expect(job!.runs[0]).toEqual({
        slot: iso(dead.slot),
        outcome: 'abandoned',
        startedAt: iso(dead.startedAt),
        finishedAt: null,
        durationMs: null,
        error: expect.stringMatching(/lease/),
        process: 'gone:7',
      });
      // The job's history is not stored: no kept outcome is dropped from view.
      expect(job!.runs.slice(1)).toEqual(runs);
      expect(job!.lastSlot).toBe(iso(live.slot));
      // Read only: the record is as it was left (the next claim records the abandoned run).
      expect((await o.store.driver.get(SCHEDULES_SPACE, 'nightly', Date.now()))!.value).toBe(value);
    });
  }

  it('a lease that lapsed only by the store clock (60 days ahead) is still running: leases go by real time', async () => {
    o = await opened('memory', { clock: () => Date.now() + 60 * 24 * 60 * MINUTE });
    const now = Date.now();
    const live: Lease = {
      slot: now - MINUTE,
      owner: 'up:8:y',
      process: 'up:8',
      startedAt: now - MINUTE,
      leaseUntil: now + 10 * MINUTE,
    };
    await leave(o, 'nightly', {
      cron: '* * * * *',
      timezone: null,
      since: now - 2 * MINUTE,
      lastSlot: live.slot,
      running: [live],
      runs: [],
    });
    const [job] = (await o.store.stats()).schedules;
    expect(job!.running.map((l) => l.process)).toEqual(['up:8']);
    expect(job!.runs).toEqual([]);
  });

  it('a lease that has just lapsed (leaseUntil now or earlier) is abandoned, as a claim would judge it', async () => {
    o = await opened('memory');
    const now = Date.now();
    const dead: Lease = { slot: now - 3_000, owner: 'gone:7:x', process: 'gone:7', startedAt: now - 3_000, leaseUntil: now };
    await leave(o, 'tick', {
      cron: '* * * * * *',
      timezone: null,
      since: now - MINUTE,
      lastSlot: dead.slot,
      running: [dead],
      runs: [],
    });
    const [job] = (await o.store.stats()).schedules;
    expect(job!.running).toEqual([]);
    expect(job!.runs.map((r) => [r.slot, r.outcome])).toEqual([[iso(dead.slot), 'abandoned']]);
  });
});
