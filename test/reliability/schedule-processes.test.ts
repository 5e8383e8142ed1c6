// One run per slot across processes: 3 processes schedule the same job every second on one
// store for about 5 s. Each run increments a counter keyed by its slot; every slot between the
// first and the last must have run exactly once (counter 1, one `ran` line in all the
// processes' output, one recorded outcome), and every process exits by itself after close().
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { fixture, LineChild, sleep, strata, tempDir } from './helpers.js';

const { openStore } = strata;
const PROCESSES = 3;
const EXIT_WITHIN_MS = 2_000;

const CASES = [
  { name: 'sqlite', url: (dir: string) => `sqlite:${join(dir, 'sched.db')}` },
  { name: 'file', url: (dir: string) => `file:${join(dir, 'sched')}` },
];

describe.concurrent('a job scheduled by 3 processes runs once per slot', () => {
  for (const c of CASES) {
    it(`${c.name}: every slot ran exactly once`, async ({ expect }) => {
      const dir = await tempDir(`sched-${c.name}`);
      const url = c.url(dir.path);
      const workers: LineChild[] = [];
      try {
        // Create the store first, so the workers do not race to create it.
        await (await openStore({ url, sweepInterval: false })).close();
        for (let i = 0; i < PROCESSES; i++) workers.push(new LineChild(fixture('schedule-worker.mjs'), [url], { stdin: true }));
        await Promise.all(workers.map((w) => w.waitFor('R', 30_000, 'worker ready')));
        // Stop between two slots (a run takes a few ms), about 5 s from now.
        const end = Math.floor(Date.now() / 1000) * 1000 + 5_400;
        for (const w of workers) w.send(`go ${end}\n`);
        // After close() each process must end by itself, promptly: close() stopped the schedule.
        const exits = await Promise.all(
          workers.map(async (w) => {
            await w.waitFor('done', 30_000, 'store.close() to resolve');
            const closedAt = Date.now();
            const exit = await w.exit(EXIT_WITHIN_MS);
            return { exit, ms: Date.now() - closedAt };
          }),
        );
        exits.forEach(({ exit, ms }, i) => {
          expect(exit.code, workers[i]!.stderr).toBe(0);
          expect(ms).toBeLessThan(EXIT_WITHIN_MS);
        });

        const ran = workers.flatMap((w) => w.lines.filter((l) => l.startsWith('ran ')).map((l) => l.slice(4)));
        const slots = [...new Set(ran)].sort();
        expect(slots.length).toBeGreaterThanOrEqual(4);
        expect(ran).toHaveLength(slots.length); // no slot ran twice, in any process
        const first = Date.parse(slots[0]!);
        expect(slots).toEqual(slots.map((_, i) => new Date(first + i * 1000).toISOString())); // none missed
        const byProcess = workers.map((w) => w.lines.filter((l) => l.startsWith('ran ')).length);

        const store = await openStore({ url, sweepInterval: false });
        try {
          const counters = new Map<string, unknown>();
          for await (const [slot, n] of store.kv('slots').entries()) counters.set(slot, n);
          expect([...counters.keys()].sort()).toEqual(slots);
          expect([...counters.values()].every((n) => n === 1)).toBe(true);
          const [count] = (await store.stats()).schedules;
          expect(count!.running).toEqual([]);
          expect(count!.runs.map((r) => r.slot).sort()).toEqual(slots);
          expect(count!.runs.every((r) => r.outcome === 'ok')).toBe(true);
          console.log(`${c.name}: ${slots.length} slots, runs per process ${byProcess.join(' / ')}`);
        } finally {
          await store.close();
        }
      } finally {
        for (const w of workers) w.kill();
        await dir.dispose();
      }
    }, 60_000);
  }
});

describe('a runner killed in the middle of a run', () => {
  it('sqlite: its slot is recorded as abandoned once the lease lapses, and is not run again; later slots run', async ({
    expect,
  }) => {
    const dir = await tempDir('sched-kill');
    const url = `sqlite:${join(dir.path, 'sched.db')}`;
    const doomed = new LineChild(fixture('schedule-worker.mjs'), [url, 'hang']);
    try {
      const started = (await doomed.waitFor((l) => l.startsWith('started '), 30_000, 'a run to start')).slice(8);
      doomed.kill();
      await doomed.exited;
      const store = await openStore({ url, sweepInterval: false });
      try {
        const slots: string[] = [];
        const job = store.schedule('* * * * * *', 'count', (_s, { slot }) => void slots.push(slot.toISOString()), {
          leaseTtl: '3s',
        });
        const end = Date.now() + 10_000;
        while (slots.length < 2 && Date.now() < end) await sleep(50);
        await job.stop();
        const { runs, running } = (await store.stats()).schedules[0]!;
        expect(running).toEqual([]);
        const abandoned = runs.filter((r) => r.outcome === 'abandoned');
        expect(abandoned).toEqual([
          expect.objectContaining({ slot: started, process: expect.stringContaining(`:${doomed.pid}`) }),
        ]);
        expect(slots.length).toBeGreaterThanOrEqual(2);
        expect(slots.every((s) => s > started)).toBe(true); // the abandoned slot was not run again
        // While the dead lease was live, protect skipped the slots that came.
        expect(runs.some((r) => r.outcome === 'skipped')).toBe(true);
      } finally {
        await store.close();
      }
    } finally {
      doomed.kill();
      await dir.dispose();
    }
  }, 60_000);
});
