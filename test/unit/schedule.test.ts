// store.schedule: validation, a fast schedule that runs, protect, a throwing job, stop(),
// close() while a run is in progress, and outcomes kept in the store and shown by stats().
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError, type Store } from '../../src/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return StrataError.is(error) ? error.code : `not a StrataError: ${String(error)}`;
  }
  return undefined;
};

/** Waits until `test()` holds, polling; fails after `ms`. */
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

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-schedule-'));
  store = await openStore({ url: url(), sweepInterval: false });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('store.schedule validation', () => {
  const noop = () => {};
  it.each([
    ['an invalid field', '61 * * * *'],
    ['too few fields', '* * *'],
    ['an empty string', ''],
    ['a date', '2030-01-01T00:00:00'],
    ['a slot in the past only', '0 0 1 1 * 2020'],
  ])('a cron expression with %s is BAD_INPUT', (_what, cron) => {
    expect(codeOf(() => store.schedule(cron, 'job', noop))).toBe('BAD_INPUT');
  });

  it('bad names, functions and options are BAD_INPUT; the error says what to do', () => {
    expect(codeOf(() => store.schedule('* * * * *', '', noop))).toBe('BAD_INPUT');
    expect(codeOf(() => store.schedule('* * * * *', 'a b', noop))).toBe('BAD_INPUT');
    expect(codeOf(() => store.schedule('* * * * *', 'job', 'nope' as never))).toBe('BAD_INPUT');
    expect(codeOf(() => store.schedule('* * * * *', 'job', noop, { protekt: true } as never))).toBe('BAD_INPUT');
    expect(codeOf(() => store.schedule('* * * * *', 'job', noop, { timezone: 'Mars/Olympus' }))).toBe('BAD_INPUT');
    expect(codeOf(() => store.schedule('* * * * *', 'job', noop, { missed: 'all' as never }))).toBe('BAD_INPUT');
    expect(codeOf(() => store.schedule('* * * * *', 'job', noop, { history: 0 }))).toBe('BAD_INPUT');
    expect(codeOf(() => store.schedule('* * * * *', 'job', noop, { leaseTtl: '1s' }))).toBe('BAD_INPUT');
    expect(codeOf(() => store.schedule('* * * * *', 'job', noop, { leaseTtl: 'forever' as never }))).toBe('BAD_INPUT');
    expect(codeOf(() => store.schedule('* * * * *', 'job', noop, { protect: 'yes' as never }))).toBe('BAD_INPUT');
    try {
      store.schedule('* * * *', 'job', noop);
    } catch (error) {
      expect((error as StrataError).hint).toMatch(/5 fields/);
    }
  });

  it('the same name twice on one store is BAD_INPUT; after stop() it may be scheduled again', async () => {
    const job = store.schedule('0 3 * * *', 'nightly', noop);
    expect(codeOf(() => store.schedule('0 4 * * *', 'nightly', noop))).toBe('BAD_INPUT');
    await job.stop();
    const again = store.schedule('0 4 * * *', 'nightly', noop, { timezone: 'Europe/Paris' });
    expect(again.nextRun()).toBeInstanceOf(Date);
  });

  it('a closed store refuses to schedule with CLOSED', async () => {
    await store.close();
    expect(codeOf(() => store.schedule('* * * * *', 'job', noop))).toBe('CLOSED');
  });

  it('nextRun() is the next slot of the calendar (timezone applied), null once stopped', async () => {
    const job = store.schedule('30 2 * * *', 'tz', noop, { timezone: 'Asia/Tokyo' });
    const next = job.nextRun()!;
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
    // 02:30 in Tokyo (UTC+9, no DST) is 17:30 UTC.
    expect([next.getUTCHours(), next.getUTCMinutes()]).toEqual([17, 30]);
    await job.stop();
    expect(job.nextRun()).toBeNull();
  });
});

describe('store.schedule runs', () => {
  it('a schedule every second runs once per slot; each slot is a whole second; outcomes are in stats()', async () => {
    const slots: number[] = [];
    const job = store.schedule('* * * * * *', 'tick', (s, { slot, name }) => {
      expect(s).toBe(store);
      expect(name).toBe('tick');
      slots.push(slot.getTime());
    });
    await until(() => slots.length >= 3, 6_000, '3 runs');
    await job.stop();
    expect(slots.every((t) => t % 1000 === 0)).toBe(true);
    expect(new Set(slots).size).toBe(slots.length);
    const stats = (await store.stats()).schedules;
    expect(stats).toHaveLength(1);
    const [tick] = stats;
    expect(tick).toMatchObject({ name: 'tick', cron: '* * * * * *', timezone: null, running: [] });
    expect(tick!.lastSlot).toBe(new Date(Math.max(...slots)).toISOString());
    expect(tick!.runs.length).toBe(slots.length);
    for (const run of tick!.runs) {
      expect(run.outcome).toBe('ok');
      expect(run.durationMs).toBeGreaterThanOrEqual(0);
      expect(Date.parse(run.finishedAt!) - Date.parse(run.startedAt!)).toBe(run.durationMs);
      expect(run.process).toBe(`${(await import('node:os')).hostname()}:${process.pid}`);
    }
    // Newest first.
    expect(tick!.runs.map((r) => r.slot)).toEqual([...slots].sort((a, b) => b - a).map((t) => new Date(t).toISOString()));
  });

  it('a job that throws is recorded as an error (message only) and the schedule goes on', async () => {
    let calls = 0;
    const job = store.schedule('* * * * * *', 'flaky', () => {
      calls++;
      if (calls === 1) throw new Error('upstream said no');
    });
    await until(() => calls >= 2, 5_000, 'a second run');
    await job.stop();
    const runs = (await store.stats()).schedules[0]!.runs;
    const failed = runs.find((r) => r.outcome === 'error');
    expect(failed?.error).toBe('upstream said no');
    expect(runs.some((r) => r.outcome === 'ok')).toBe(true);
  });

  it('keeps the last `history` outcomes', async () => {
    let calls = 0;
    const job = store.schedule('* * * * * *', 'short', () => void calls++, { history: 2 });
    await until(() => calls >= 3, 6_000, '3 runs');
    await job.stop();
    expect((await store.stats()).schedules[0]!.runs).toHaveLength(2);
  });

  it('protect (default): a slot that comes while the previous run is in progress is skipped and recorded', async () => {
    let active = 0;
    let most = 0;
    let runs = 0;
    const job = store.schedule('* * * * * *', 'slow', async () => {
      active++;
      most = Math.max(most, active);
      await sleep(2_200);
      active--;
      runs++;
    });
    await until(() => runs >= 1, 6_000, 'one slow run');
    await job.stop();
    expect(most).toBe(1);
    const outcomes = (await store.stats()).schedules[0]!.runs.map((r) => r.outcome);
    expect(outcomes).toContain('skipped');
    expect(outcomes).toContain('ok');
  });

  it('protect: false lets runs overlap', async () => {
    let active = 0;
    let most = 0;
    const job = store.schedule(
      '* * * * * *',
      'overlap',
      async () => {
        active++;
        most = Math.max(most, active);
        await sleep(1_600);
        active--;
      },
      { protect: false },
    );
    await until(() => most >= 2, 6_000, 'two runs at once');
    await job.stop();
    expect(active).toBe(0);
  });

  it('stop() waits for the run in progress to be recorded, and no run starts after it', async () => {
    let started = 0;
    const job = store.schedule('* * * * * *', 'stopper', async () => {
      started++;
      await sleep(300);
    });
    await until(() => job.running, 5_000, 'a run to start');
    await job.stop();
    expect(job.running).toBe(false);
    const [stats] = (await store.stats()).schedules;
    expect(stats!.running).toEqual([]);
    expect(stats!.runs[0]!.outcome).toBe('ok');
    const seen = started;
    await sleep(1_300);
    expect(started).toBe(seen);
  });

  it('close() aborts the run in progress, waits for it and records it; a reopened store sees the outcome', async () => {
    let aborted = false;
    store.schedule('* * * * * *', 'long', async (s, { signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      aborted = true;
      await s.kv('app').set('after-close', 1); // the store is closing: CLOSED
    });
    await until(async () => (await store.stats()).schedules[0]?.running.length === 1, 5_000, 'the run to hold its lease');
    await store.close();
    expect(aborted).toBe(true);
    store = await openStore({ url: url(), sweepInterval: false });
    const [long] = (await store.stats()).schedules;
    expect(long!.running).toEqual([]);
    expect(long!.runs[0]).toMatchObject({ outcome: 'error' });
    expect(long!.runs[0]!.error).toMatch(/^CLOSED/);
    expect(await store.kv('app').get('after-close')).toBeNull();
  });

  it('a store call inside a job works like any other', async () => {
    const job = store.schedule('* * * * * *', 'counter', (s) => s.kv('counts').incr('runs'));
    await until(async () => ((await store.kv<number>('counts').get('runs')) ?? 0) >= 2, 5_000, 'two counted runs');
    await job.stop();
  });
});
