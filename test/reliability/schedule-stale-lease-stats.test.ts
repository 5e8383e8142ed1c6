// stats() and `strata stats` after a runner died mid-run and nobody schedules the job any
// more (child of test/fixtures/schedule-worker.mjs, `hang` mode: a run that never settles,
// leaseTtl 3 s, SIGKILLed). Failed before the fix: 4.5 s after the kill, with the lease long
// lapsed, stats() still listed the dead run under `running` (leaseUntil in the past),
// `strata stats --json` too, and the table showed the job's last outcome as `running`, which
// it would until some process claimed the job again: maybe never. Now, while the lease is
// live, the run is shown as running; once it has lapsed, as the `abandoned` run README
// "Schedules" promises, and the record is left as it was (reading writes nothing).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixture, LineChild, sleep, strata, tempDir } from './helpers.js';

const { openStore } = strata;
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

async function cli(url: string, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'stats', '--url', url, ...args], { timeout: 20_000 });
  return stdout;
}

describe('stats after a runner died', () => {
  it('sqlite: a live lease is running; once it has lapsed the run is abandoned, in stats() and in `strata stats`', async () => {
    const dir = await tempDir('sched-stale');
    const url = `sqlite:${join(dir.path, 's.db')}`;
    const doomed = new LineChild(fixture('schedule-worker.mjs'), [url, 'hang']);
    try {
      const slot = (await doomed.waitFor((l) => l.startsWith('started '), 30_000, 'a run to start')).slice(8);
      doomed.kill();
      await doomed.exited;
      const store = await openStore({ url, sweepInterval: false });
      try {
        // Just after the kill: the lease (renewed every second) is most likely still live.
        const readAt = Date.now();
        const [before] = (await store.stats()).schedules;
        const live = before!.running.filter((l) => l.slot === slot);
        const abandoned = before!.runs.filter((r) => r.slot === slot && r.outcome === 'abandoned');
        expect(live.length + abandoned.length, JSON.stringify(before)).toBe(1); // one or the other
        expect(live.every((l) => Date.parse(l.leaseUntil) > readAt)).toBe(true);

        await sleep(4_500); // leaseTtl is 3 s: the lease has lapsed
        const [after] = (await store.stats()).schedules;
        expect(after!.running).toEqual([]);
        expect(after!.runs.filter((r) => r.slot === slot)).toEqual([
          expect.objectContaining({ outcome: 'abandoned', finishedAt: null, process: expect.stringContaining(`:${doomed.pid}`) }),
        ]);
      } finally {
        await store.close();
      }

      type Json = { schedules: Array<{ name: string; running: unknown[]; runs: Array<{ slot: string; outcome: string }> }> };
      const [job] = (JSON.parse(await cli(url, '--json')) as Json).schedules;
      expect(job).toMatchObject({ name: 'count', running: [] });
      expect(job!.runs.find((r) => r.slot === slot)?.outcome).toBe('abandoned');
      // The table's "last outcome" is the newest run's: the abandoned one (or, had a slot come
      // before the kill landed, that slot's `skipped`), never `running`.
      const last = job!.runs[0]!.outcome;
      expect(['abandoned', 'skipped']).toContain(last);
      const table = await cli(url);
      expect(table).toMatch(new RegExp(`^count\\s+\\* \\* \\* \\* \\* \\*\\s+\\S+Z\\s+${last}\\s`, 'm'));
      expect(table).not.toMatch(/\brunning\b/);

      // Reading wrote nothing: the job's record still holds the dead lease for the next claim to record.
      const again = await openStore({ url, sweepInterval: false });
      try {
        const raw = await again.driver.get('meta.schedules', 'count', Date.now());
        expect((JSON.parse(raw!.value) as { running: unknown[] }).running).toHaveLength(1);
      } finally {
        await again.close();
      }
    } finally {
      doomed.kill();
      await dir.dispose();
    }
  }, 60_000);
});
