// Seed 000 (deploy bot) under hostile use: data keys that are Object.prototype members
// (setData('constructor', x) overwrote the refresh token), createdAt values that name no
// instant or one that depends on the machine's time zone, and the cron prune run by three
// bot processes on one store at once (each slot pruned in at most one, duplicates gone).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataError } from '../../src/index.js';
import { LineChild, runTogether } from '../../test/reliability/helpers.js';
import { createTracker, PRUNE_JOB, type DeployTracker } from './tracker.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
const REFRESH = `ghr_${randomBytes(30).toString('base64url')}`;
let dir: string;
let url: string;
const open: DeployTracker[] = [];
async function tracker(): Promise<DeployTracker> {
  const t = await createTracker({ url, keys: KEYS, cron: false });
  open.push(t);
  return t;
}
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-deploy-hostile-'));
  url = `file:${join(dir, 'data')}`;
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});
const code = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof StrataError ? e.code : `not a StrataError: ${String(e)}`),
  );
const record = (createdAt?: unknown) => ({ id: 'd', repoName: 'web', branch: 'main', status: 'ok', createdAt }) as never;

describe('deploy tracker (seed 000) under hostile input', () => {
  it('keys that are Object.prototype members are plain data keys, never a token', async () => {
    const t = await tracker();
    await t.persistRefreshToken(REFRESH);
    for (const key of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(await t.getData(key), key).toBeNull();
      await t.setData(key, `plain-${key}`);
      expect(await t.getData(key)).toBe(`plain-${key}`);
    }
    await t.setData('__proto__', { polluted: true });
    expect(await t.getData('__proto__')).toEqual({ polluted: true });
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(await t.getData('refreshToken')).toBe(REFRESH);
    expect(await t.getData('accessToken')).toBeNull();
    await t.close();
    for (const e of readdirSync(join(dir, 'data'), { recursive: true, withFileTypes: true }))
      if (e.isFile()) expect(readFileSync(join(e.parentPath, e.name)).includes(REFRESH)).toBe(false);
  });

  it('createdAt must name one instant: a Date or an ISO date-time with a zone', async () => {
    const t = await tracker();
    for (const bad of [
      'May 5',
      '5',
      '2026-06-01',
      '2026-06-01T10:00:00',
      '2026-02-30T10:00:00Z',
      '2026-06-01T25:00:00Z',
      5,
      {},
      new Date('x'),
    ])
      expect(await code(t.recordDeployment(record(bad))), String(bad)).toBe('BAD_INPUT');
    expect(await t.deployments.count()).toBe(0);
    const stored = await t.recordDeployment(record('2026-06-01T12:00:00+02:00'));
    expect(stored.createdAt).toBe('2026-06-01T10:00:00.000Z');
    expect((await t.recordDeployment(record(new Date(Date.UTC(2026, 5, 1, 11))))).createdAt).toBe('2026-06-01T11:00:00.000Z');
    // Newest by instant, not by how the string was written.
    expect(await t.pruneDupes('deployments')).toBe(1);
    expect((await t.listDeployments()).map((d) => d.createdAt)).toEqual(['2026-06-01T11:00:00.000Z']);
  });

  it('three bot processes with the cron prune: each slot runs in at most one, duplicates pruned', async () => {
    const t = await tracker();
    const workers = [1, 2, 3].map(
      () =>
        new LineChild(fileURLToPath(new URL('./cron-worker.mjs', import.meta.url)), [url, '3500'], {
          stdin: true,
          env: { ...process.env, STRATA_KEYS: KEYS },
        }),
    );
    const done = runTogether(workers, 55_000);
    // Duplicates written while the three run: 20 deployments, 3 status changes each.
    const base = Date.UTC(2026, 5, 1);
    for (let round = 0; round < 3; round++)
      await t.recordDeployments(
        Array.from({ length: 20 }, (_, i) => ({
          id: `dep-${i}`,
          repoName: 'web',
          branch: 'main',
          status: ['pending', 'running', 'success'][round]!,
          createdAt: new Date(base + round * 60_000 + i),
        })),
      );
    await done;
    const schedule = (await t.store.stats()).schedules.find((s) => s.name === PRUNE_JOB);
    const runs = schedule?.runs ?? [];
    expect(runs.length).toBeGreaterThanOrEqual(2); // 3.5 s of an every-second cron
    const slots = runs.map((r) => (r as { slot: string }).slot);
    expect(new Set(slots).size, JSON.stringify(runs)).toBe(slots.length);
    expect(
      // 'skipped': a slot that came while the previous prune still ran (a loaded machine).
      runs.every((r) => r.outcome === 'ok' || r.outcome === 'skipped') && runs.some((r) => r.outcome === 'ok'),
      JSON.stringify(runs),
    ).toBe(true);
    // A last prune may not have come after the last batch: run it, then one record per id.
    await t.pruneDupes('deployments');
    const left = await t.listDeployments();
    expect(left).toHaveLength(20);
    expect(left.every((d) => d.status === 'success')).toBe(true);
  }, 60_000);
});
