// Lease handover across 3 processes when one is SIGKILLed in the middle of a run (children of
// test/fixtures/schedule-worker.mjs, `slow` mode: a run takes 300 ms, leaseTtl 3 s). The
// README promises at most once, not exactly once: the killed slot is never started again, by
// any process; while its dead lease is live the next slots are skipped (protect); once it
// lapsed the next claim records the killed run as `abandoned` and later slots run again, each
// in exactly one process.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, LineChild, strata, tempDir } from './helpers.js';

const { openStore } = strata;

describe('3 processes, one SIGKILLed mid-run', () => {
  it.each(['sqlite', 'file'])(
    '%s: the killed slot never runs again; later slots run once each',
    async (kind) => {
      const dir = await tempDir(`sched-handover-${kind}`);
      const url = kind === 'sqlite' ? `sqlite:${join(dir.path, 'sched.db')}` : `file:${join(dir.path, 'sched')}`;
      const workers: LineChild[] = [];
      try {
        await (await openStore({ url, sweepInterval: false })).close();
        for (let i = 0; i < 3; i++) workers.push(new LineChild(fixture('schedule-worker.mjs'), [url, 'slow'], { stdin: true }));
        await Promise.all(workers.map((w) => w.waitFor('R', 30_000, 'worker ready')));
        const end = Math.floor(Date.now() / 1000) * 1000 + 9_600;
        for (const w of workers) w.send(`go ${end}\n`);
        // Kill whichever process starts the second run it sees, while that run is in progress.
        const victim = await new Promise<{ worker: LineChild; slot: string }>((resolve) => {
          let seen = 0;
          for (const worker of workers) {
            void worker
              .waitFor((l) => l.startsWith('started ') && ++seen === 2, 30_000, 'a second run')
              .then(
                (line) => resolve({ worker, slot: line.slice(8) }),
                () => {},
              );
          }
        });
        victim.worker.kill();
        await victim.worker.exited;
        const survivors = workers.filter((w) => w !== victim.worker);
        for (const w of survivors) await w.waitFor('done', 30_000, 'store.close() to resolve');
        for (const w of survivors) expect((await w.exit(5_000)).code, w.stderr).toBe(0);

        const started = workers.flatMap((w) => w.lines.filter((l) => l.startsWith('started ')).map((l) => l.slice(8)));
        expect(started.filter((s) => s === victim.slot)).toEqual([victim.slot]); // not run again
        expect(new Set(started).size).toBe(started.length); // no slot started twice anywhere
        const after = started.filter((s) => s > victim.slot);
        expect(after.length, 'slots run after the dead lease lapsed').toBeGreaterThanOrEqual(2);
        // The first slot run after the kill comes once the 3 s lease lapsed, not before.
        expect(Date.parse(after.sort()[0]!) - Date.parse(victim.slot)).toBeGreaterThanOrEqual(3_000);

        const store = await openStore({ url, sweepInterval: false });
        try {
          const [job] = (await store.stats()).schedules;
          const bySlot = new Map<string, string[]>();
          for (const r of job!.runs) bySlot.set(r.slot, [...(bySlot.get(r.slot) ?? []), r.outcome]);
          expect(
            [...bySlot.values()].every((o) => o.length === 1),
            JSON.stringify([...bySlot]),
          ).toBe(true);
          expect(bySlot.get(victim.slot)).toEqual(['abandoned']);
          expect(job!.runs.find((r) => r.slot === victim.slot)!.process).toContain(`:${victim.worker.pid}`);
          expect(job!.runs.some((r) => r.outcome === 'skipped')).toBe(true);
          for (const slot of after) expect(bySlot.get(slot)).toEqual(['ok']);
          expect(job!.running).toEqual([]);
          expect(await store.kv('slots').get(victim.slot)).toBeNull();
        } finally {
          await store.close();
        }
      } finally {
        for (const w of workers) w.kill();
        await dir.dispose();
      }
    },
    60_000,
  );
});
