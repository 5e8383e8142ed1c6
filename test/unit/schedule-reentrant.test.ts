// A job function that stops its own job, or closes its own store, used to wait forever: stop()
// and close() wait for the runs in progress, and the run was waiting for them. Now such a call
// does not wait for the run it comes from. stop() from inside: the run still finishes and is
// recorded. close() from inside: the other jobs' runs are still waited for; this run's outcome
// cannot be written any more, so its lease lapses and the next claim records it abandoned,
// with no warning. Also: the calendar agrees with itself across DST (a late timer picks the
// same slot an on-time one does), for the 02:30 job on spring-forward and fall-back days.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/index.js';
import { CronCalendar } from '../../src/ops/cron.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the value of `promise`, or 'hung' after `ms`. */
const within = <T>(promise: Promise<T>, ms: number): Promise<T | 'hung'> =>
  Promise.race([promise, sleep(ms).then(() => 'hung' as const)]);

async function until(test: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

let dir: string;
let store: Store;
const url = () => `sqlite:${join(dir, 's.db')}`;
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(w.message);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-schedule-self-'));
  store = await openStore({ url: url(), sweepInterval: false });
  warnings.length = 0;
  process.on('warning', onWarning);
});
afterEach(async () => {
  process.off('warning', onWarning);
  await within(store.close(), 5_000);
  await rm(dir, { recursive: true, force: true });
});

describe('a job that stops its job or closes its store', () => {
  it('stop() from inside the run resolves; the run finishes and is recorded; nothing runs after', async () => {
    let runs = 0;
    let stopped: Promise<unknown> | undefined;
    const job = store.schedule('* * * * * *', 'self-stop', async () => {
      runs++;
      stopped = within(job.stop(), 3_000);
      expect(await stopped).toBeUndefined();
      return 'done';
    });
    await until(() => stopped !== undefined, 5_000, 'a run');
    expect(await stopped).toBeUndefined();
    await until(async () => (await store.stats()).schedules[0]?.runs.length === 1, 5_000, 'the outcome');
    const [stats] = (await store.stats()).schedules;
    expect(stats!.running).toEqual([]);
    expect(stats!.runs[0]!.outcome).toBe('ok');
    expect(job.nextRun()).toBeNull();
    await sleep(1_200);
    expect(runs).toBe(1);
    // The name is free again.
    const again = store.schedule('* * * * * *', 'self-stop', () => {});
    await again.stop();
  });

  it('store.close() from inside the run resolves, after the runs of other jobs; the run shows abandoned later', async () => {
    let otherFinished = false;
    store.schedule('* * * * * *', 'other', async (_s, { signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await sleep(100);
      otherFinished = true;
    });
    await until(async () => (await store.stats()).schedules.some((j) => j.running.length > 0), 5_000, 'the other run');
    let closed: Promise<unknown> | undefined;
    let closedBeforeOther: boolean | undefined;
    store.schedule(
      '* * * * * *',
      'closer',
      async (s) => {
        closed = within(s.close(), 5_000);
        expect(await closed).toBeUndefined();
        closedBeforeOther = !otherFinished;
      },
      { leaseTtl: '3s' },
    );
    await until(() => closed !== undefined, 5_000, 'the closing run');
    expect(await closed).toBeUndefined();
    expect(closedBeforeOther).toBe(false);

    store = await openStore({ url: url(), sweepInterval: false });
    const closer = () => store.stats().then((s) => s.schedules.find((j) => j.name === 'closer')!);
    expect((await closer()).running).toHaveLength(1);
    // The other job's run was waited for and recorded (later slots of it were skipped: protect).
    const other = (await store.stats()).schedules.find((j) => j.name === 'other')!;
    expect(other.running).toEqual([]);
    expect(other.runs.filter((r) => r.outcome !== 'skipped').map((r) => r.outcome)).toEqual(['ok']);
    // Once its lease has lapsed, the next claim of the job records the run abandoned.
    await sleep(3_100);
    const job = store.schedule('* * * * * *', 'closer', () => {}, { leaseTtl: '3s' });
    await until(async () => (await closer()).runs.some((r) => r.outcome === 'abandoned'), 5_000, 'abandoned');
    await job.stop();
    expect(warnings.filter((w) => w.includes('schedule'))).toEqual([]);
  });
});

describe('the calendar across DST', () => {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

  it.each([
    // 02:30 does not exist on 2026-03-29 in Paris: the run comes right after the jump (03:00 CEST).
    ['30 2 * * *', 'Europe/Paris', '2026-03-28T12:00:00Z', '2026-03-29T01:00:00.000Z'],
    // 02:30 happens twice on 2026-10-25 in Paris: one run, at the first.
    ['30 2 * * *', 'Europe/Paris', '2026-10-24T12:00:00Z', '2026-10-25T00:30:00.000Z'],
    ['30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', '2026-03-08T07:00:00.000Z'],
    ['30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', '2026-11-01T05:30:00.000Z'],
  ])('%s in %s after %s runs once, at %s, and a late timer agrees', (cron, zone, from, slot) => {
    const calendar = new CronCalendar(cron, zone, 'test');
    const first = calendar.next(Date.parse(from));
    expect(iso(first)).toBe(slot);
    const second = calendar.next(first!);
    expect(second! - first!).toBeGreaterThan(20 * 3_600_000);
    // A timer that fires late, anywhere before the next slot, folds into this same slot.
    for (const late of [0, 1, 60_000, 3_600_000, second! - first! - 1]) expect(iso(calendar.latest(first! + late))).toBe(slot);
  });

  it('a pattern with a step skips the times that do not exist and runs both occurrences of repeated ones', () => {
    const calendar = new CronCalendar('*/30 * * * *', 'Europe/Paris', 'test');
    const walk = (from: string, n: number) => {
      const out: Array<string | null> = [];
      let at = Date.parse(from);
      for (let i = 0; i < n; i++) out.push(iso((at = calendar.next(at)!)));
      return out;
    };
    // Spring forward: 01:30 CET, then 03:00 CEST (02:00 and 02:30 do not exist).
    expect(walk('2026-03-29T00:00:00Z', 3)).toEqual([
      '2026-03-29T00:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:30:00.000Z',
    ]);
    // Fall back: 02:30 CEST, 02:00 CET, 02:30 CET: every half hour of real time.
    expect(walk('2026-10-25T00:00:00Z', 3)).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T01:00:00.000Z',
      '2026-10-25T01:30:00.000Z',
    ]);
  });
});
