// store.transaction across processes: read-only transactions always see one committed state
// (a sum invariant while other processes move amounts), and scans are validated at commit
// (four processes each taking a slot when fewer than three are taken: never four).
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fixture, LineChild, runTogether, strata, tempDir } from './helpers.js';

const { openStore } = strata;

interface WorkerStats {
  ms: number;
  attempts: number;
  done: number;
  bad: number;
  sums: Record<string, number>;
  took: number;
}

const CASES = [
  { name: 'sqlite', url: (dir: string) => `sqlite:${join(dir, 'tx.db')}?durability=normal` },
  { name: 'file', url: (dir: string) => `file:${join(dir, 'store')}?durability=normal` },
];

const timings: string[] = [];
afterAll(() => {
  for (const t of timings) console.log(`[transactions] ${t}`);
});

/** Two accounts holding 100 in all, the invariant every reader checks. */
async function seedAccounts(url: string): Promise<void> {
  const setup = await openStore({ url, sweepInterval: false });
  await setup.kv('acct').setMany([
    ['a', 100],
    ['b', 0],
  ]);
  await setup.close();
}

/** Starts one worker per task, releases them together, waits for all; returns their stats. */
async function runWorkers(url: string, tasks: Array<[task: string, n: number]>): Promise<WorkerStats[]> {
  const workers = tasks.map(
    ([task, n], i) => new LineChild(fixture('tx-worker.mjs'), [url, task, String(n), String(i)], { stdin: true }),
  );
  return runTogether<WorkerStats>(workers, 60_000);
}

for (const c of CASES)
  describe(`${c.name}: transactions across processes`, () => {
    it('read-only transactions always see the invariant while 2 processes move amounts', async () => {
      const dir = await tempDir(`tx-sum-${c.name}`);
      try {
        const url = c.url(dir.path);
        await seedAccounts(url);
        const stats = await runWorkers(url, [
          ['mover', 300],
          ['mover', 300],
          ['sums', 1_500],
          ['sums', 1_500],
        ]);
        const readers = stats.slice(2);
        const reads = readers.reduce((n, s) => n + s.done, 0);
        const reruns = readers.reduce((n, s) => n + s.attempts - s.done, 0);
        timings.push(
          `${c.name} sums: ${reads} read-only transactions (${reruns} reruns), ${stats[0]!.done + stats[1]!.done} moves (${
            stats[0]!.attempts + stats[1]!.attempts - stats[0]!.done - stats[1]!.done
          } reruns), bad sums ${readers.map((s) => JSON.stringify(s.sums)).join(' ')}`,
        );
        expect(readers.map((s) => s.bad)).toEqual([0, 0]);
        expect(reads).toBeGreaterThan(20);
        expect(stats[0]!.done + stats[1]!.done).toBe(600);
        const check = await openStore({ url, sweepInterval: false });
        const kv = check.kv<number>('acct');
        expect((await kv.get('a'))! + (await kv.get('b'))!).toBe(100);
        await check.close();
      } finally {
        await dir.dispose();
      }
    }, 90_000);

    it('read-only transactions see the invariant while another process deletes and rewrites both keys (versions stay 1)', async () => {
      const dir = await tempDir(`tx-recreate-${c.name}`);
      try {
        const url = c.url(dir.path);
        await seedAccounts(url);
        const stats = await runWorkers(url, [
          ['recreate', 1_500],
          ['sums', 1_500],
          ['sums', 1_500],
        ]);
        const readers = stats.slice(1);
        timings.push(
          `${c.name} recreate: ${readers.reduce((n, s) => n + s.done, 0)} read-only transactions, ${stats[0]!.done} rewrites, bad sums ${readers
            .map((s) => JSON.stringify(s.sums))
            .join(' ')}`,
        );
        expect(readers.map((s) => s.bad)).toEqual([0, 0]);
        const check = await openStore({ url, sweepInterval: false });
        const entry = await check.kv<number>('acct').getEntry('a');
        expect(entry?.version).toBe(1);
        expect(entry!.value + (await check.kv<number>('acct').get('b'))!).toBe(100);
        await check.close();
      } finally {
        await dir.dispose();
      }
    }, 90_000);

    it('"take a slot when fewer than 3 are taken" in 4 processes never ends with 4', async () => {
      const dir = await tempDir(`tx-slots-${c.name}`);
      const rounds = 25;
      try {
        const url = c.url(dir.path);
        const stats = await runWorkers(
          url,
          Array.from({ length: 4 }, () => ['slots', rounds] as [string, number]),
        );
        const check = await openStore({ url, sweepInterval: false });
        const counts: number[] = [];
        for (let round = 0; round < rounds; round++) counts.push(await check.collection(`slots${round}`).count());
        await check.close();
        const reruns = stats.reduce((n, s) => n + s.attempts - s.done, 0);
        timings.push(`${c.name} slots: ${rounds} rounds x 4 processes, ${reruns} reruns, counts ${counts.join(',')}`);
        expect(counts).toEqual(Array.from({ length: rounds }, () => 3));
        expect(stats.reduce((n, s) => n + s.took, 0)).toBe(3 * rounds);
      } finally {
        await dir.dispose();
      }
    }, 90_000);
  });
