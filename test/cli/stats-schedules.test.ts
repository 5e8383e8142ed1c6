// `strata stats` shows scheduled jobs: their cron, last slot, last outcome, how long it took
// and the next slot; `--json` has the recorded outcomes under `schedules`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';

const BIN = join(resolve(import.meta.dirname, '../..'), 'dist/cli/main.js');
let dir: string;
let url: string;

function strata(args: string[]): { code: number; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.STRATA_URL;
  const result = spawnSync(process.execPath, [BIN, '--url', url, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw result.error;
  return { code: result.status!, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-cli-sched-'));
  url = `sqlite:${join(dir, 's.db')}`;
  const store = await openStore({ url, sweepInterval: false });
  let calls = 0;
  const ok = store.schedule('* * * * * *', 'prune-dupes', () => void calls++, { timezone: 'UTC' });
  let failures = 0;
  const failing = store.schedule('* * * * * *', 'broken', () => {
    failures++;
    throw new Error('token endpoint returned 500');
  });
  const end = Date.now() + 5_000;
  while ((calls === 0 || failures === 0) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await Promise.all([ok.stop(), failing.stop()]);
  await store.close();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('strata stats and schedules', () => {
  it('--json lists each job with its recorded outcomes', () => {
    const run = strata(['stats', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const stats = JSON.parse(run.stdout) as {
      schedules: Array<{
        name: string;
        cron: string;
        timezone: string | null;
        nextRun: string;
        runs: Array<Record<string, unknown>>;
      }>;
    };
    expect(stats.schedules.map((s) => s.name)).toEqual(['broken', 'prune-dupes']);
    const [broken, prune] = stats.schedules;
    expect(prune).toMatchObject({ cron: '* * * * * *', timezone: 'UTC' });
    expect(Date.parse(prune!.nextRun)).toBeGreaterThan(Date.now() - 1000);
    expect(prune!.runs[0]).toMatchObject({ outcome: 'ok', durationMs: expect.any(Number), process: expect.any(String) });
    expect(broken!.runs.some((r) => r.outcome === 'error' && r.error === 'token endpoint returned 500')).toBe(true);
  });

  it('human output has a table of jobs', () => {
    const run = strata(['stats']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^job\s+cron\s+last slot\s+last outcome\s+took\s+next run$/m);
    expect(run.stdout).toMatch(/^prune-dupes\s+\* \* \* \* \* \* \(UTC\)\s+\S+Z\s+ok\s+\d+ ms\s+\S+Z$/m);
    expect(run.stdout).toMatch(/^broken\s.*error: token endpoint returned 500/m);
  });
});
