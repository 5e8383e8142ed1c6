import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataError } from '../../src/index.js';
import { createTracker, DEFAULT_TRACKER_URL, PRUNE_JOB, TRACKER_SPACES, type DeployTracker } from './tracker.js';

// Every behaviour seed 000's persistence module names, on the tracker built on Strata, on
// the JSON-file backend it defaults to, with real files in a temp directory.

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
const ACCESS = `gho_${randomBytes(27).toString('base64url')}`;
const REFRESH = `ghr_${randomBytes(45).toString('base64url')}`;

let dir: string;
let url: string;
const open: DeployTracker[] = [];

async function tracker(options: Parameters<typeof createTracker>[0] = {}): Promise<DeployTracker> {
  const t = await createTracker({ url, keys: KEYS, cron: false, ...options });
  open.push(t);
  return t;
}

/** Every file under `root`, recursively. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

const deployment = (id: string, status: string, createdAt: string, extra: Record<string, unknown> = {}) => ({
  id,
  repoName: 'web-app',
  branch: 'main',
  status,
  createdAt,
  ...extra,
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-deploy-tracker-'));
  url = `file:${join(dir, 'data')}`;
});

afterEach(async () => {
  for (const t of open.splice(0)) await t.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('deploy tracker (seed 000 on Strata)', () => {
  it('persists the access and refresh tokens and reads them back through getData', async () => {
    const t = await tracker();
    expect(await t.getData('accessToken')).toBeNull();
    expect(await t.getData('refreshToken')).toBeNull();
    await t.persistAccessToken(ACCESS);
    await t.persistRefreshToken(REFRESH);
    expect(await t.getData('accessToken')).toBe(ACCESS);
    expect(await t.getData('refreshToken')).toBe(REFRESH);
    // The seed also writes a token with setData: it goes to the same encrypted place.
    await t.setData('accessToken', 'gho_new_access_token');
    expect(await t.getData('accessToken')).toBe('gho_new_access_token');
    expect(await t.store.kv(TRACKER_SPACES.data).get('accessToken')).toBeNull();
    await expect(t.setData('refreshToken', 42)).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('an access token with a ttl reads as null once it has passed (by the injected clock)', async () => {
    let now = Date.parse('2026-06-01T00:00:00Z');
    const t = await tracker({ clock: () => now });
    await t.persistAccessToken(ACCESS, { ttl: '1h' });
    now += 59 * 60_000;
    expect(await t.getData('accessToken')).toBe(ACCESS);
    now += 2 * 60_000;
    expect(await t.getData('accessToken')).toBeNull();
  });

  it('getData is null for a key never set; setData / getData round-trip JSON values', async () => {
    const t = await tracker();
    expect(await t.getData('nothing-here')).toBeNull();
    const values: Record<string, unknown> = {
      settings: { pollInterval: '30s', notify: ['failed'], nested: { a: [1, 2, { b: true }] } },
      list: [1, 'two', null, { three: 3 }],
      count: 7,
      name: 'deploy-bot',
      enabled: false,
    };
    for (const [key, value] of Object.entries(values)) await t.setData(key, value);
    for (const [key, value] of Object.entries(values)) expect(await t.getData(key)).toEqual(value);
    await t.setData('count', 8);
    expect(await t.getData('count')).toBe(8);
    await expect(t.setData('bad', () => 1)).rejects.toBeInstanceOf(StrataError);
    expect(await t.getData('bad')).toBeNull();
  });

  it('stores deployment records and lists them, newest first, filtered', async () => {
    const now = Date.parse('2026-06-01T12:00:00Z');
    const t = await tracker({ clock: () => now });
    const stored = await t.recordDeployment({ id: 'dep-1', repoName: 'web-app', branch: 'main', status: 'pending' });
    expect(stored).toMatchObject({ id: 'dep-1', repoName: 'web-app', branch: 'main', status: 'pending' });
    expect(stored.createdAt).toBe(new Date(now).toISOString()); // filled from the clock
    expect(typeof stored.recordId).toBe('string');
    await t.recordDeployments([
      deployment('dep-2', 'failed', '2026-06-01T13:00:00Z', { repoName: 'api' }),
      deployment('dep-3', 'success', new Date('2026-06-01T11:00:00Z').toISOString()),
    ]);
    const all = await t.listDeployments();
    expect(all.map((d) => d.id)).toEqual(['dep-2', 'dep-1', 'dep-3']);
    expect((await t.listDeployments({ repoName: 'web-app' })).map((d) => d.id)).toEqual(['dep-1', 'dep-3']);
    expect((await t.listDeployments({ status: 'failed' })).map((d) => d.id)).toEqual(['dep-2']);
    await expect(t.recordDeployment({ id: '', repoName: 'x', branch: 'main', status: 'ok' })).rejects.toMatchObject({
      code: 'BAD_INPUT',
    });
    // A batch with one bad record stores none of it.
    await expect(
      t.recordDeployments([
        deployment('dep-4', 'pending', '2026-06-02T00:00:00Z'),
        { id: 'dep-5', repoName: 'x', branch: 'main' } as never,
      ]),
    ).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(await t.deployments.count()).toBe(3);
  });

  it('pruneDupes keeps the newest record of each id (by createdAt, not by write order)', async () => {
    const t = await tracker();
    await t.recordDeployments([
      deployment('dep-1', 'success', '2026-06-01T10:05:00Z'), // newest of dep-1, written first
      deployment('dep-1', 'pending', '2026-06-01T10:00:00Z'),
      deployment('dep-1', 'running', '2026-06-01T10:02:00Z'),
      deployment('dep-2', 'pending', '2026-06-01T11:00:00Z'),
      deployment('dep-2', 'failed', '2026-06-01T11:09:00Z'),
      deployment('dep-3', 'success', '2026-06-01T12:00:00Z'),
    ]);
    expect(await t.pruneDupes('deployments')).toBe(3);
    const left = await t.listDeployments({}, { sort: { id: 1 } });
    expect(left.map((d) => [d.id, d.status])).toEqual([
      ['dep-1', 'success'],
      ['dep-2', 'failed'],
      ['dep-3', 'success'],
    ]);
    expect(await t.pruneDupes('deployments')).toBe(0);
  });

  it('pruneDupes with a custom idKey, on the collection and on a list stored with setData', async () => {
    const t = await tracker();
    await t.recordDeployments([
      deployment('dep-1', 'success', '2026-06-01T10:00:00Z', { commit: 'abc' }),
      deployment('dep-2', 'success', '2026-06-01T10:30:00Z', { commit: 'abc' }), // same commit, newer
      deployment('dep-3', 'failed', '2026-06-01T11:00:00Z', { commit: 'def' }),
      deployment('dep-4', 'pending', '2026-06-01T09:00:00Z'), // no commit: left alone
    ]);
    expect(await t.pruneDupes('deployments', 'commit')).toBe(1);
    expect((await t.listDeployments({}, { sort: { id: 1 } })).map((d) => d.id)).toEqual(['dep-2', 'dep-3', 'dep-4']);

    // The seed's own form: a list under a key, pruned in place.
    await t.setData('builds', [
      { buildId: 'b1', state: 'queued', createdAt: '2026-06-01T10:00:00Z' },
      { buildId: 'b2', state: 'queued', createdAt: '2026-06-01T10:01:00Z' },
      { buildId: 'b1', state: 'done', createdAt: '2026-06-01T10:05:00Z' },
      { note: 'no id' },
      { buildId: 'b2', state: 'stale', createdAt: '2026-06-01T09:00:00Z' }, // older, though later in the list
    ]);
    expect(await t.pruneDupes('builds', 'buildId')).toBe(2);
    expect(await t.getData('builds')).toEqual([
      { buildId: 'b2', state: 'queued', createdAt: '2026-06-01T10:01:00Z' },
      { buildId: 'b1', state: 'done', createdAt: '2026-06-01T10:05:00Z' },
      { note: 'no id' },
    ]);
    expect(await t.pruneDupes('no-such-key')).toBe(0);
    expect(await t.getData('no-such-key')).toBeNull();
  });

  it('no file of the store holds either token (every file under the data dir is read)', async () => {
    const t = await tracker();
    await t.persistAccessToken(ACCESS);
    await t.persistRefreshToken(REFRESH);
    await t.setData('refreshToken', `${REFRESH}_v2`);
    const canary = `plain-canary-${randomBytes(8).toString('hex')}`;
    await t.setData('note', canary); // not a secret: must be found, or the scan reads nothing
    await t.recordDeployment({ id: 'dep-1', repoName: 'web-app', branch: 'main', status: 'success' });
    await t.close();
    const files = filesUnder(join(dir, 'data'));
    expect(files.length).toBeGreaterThan(0);
    const holding = (text: string) => files.filter((f) => readFileSync(f).includes(Buffer.from(text, 'utf8')));
    expect(holding(canary).length).toBeGreaterThan(0);
    expect(holding(ACCESS)).toEqual([]);
    expect(holding(REFRESH)).toEqual([]);
    expect(holding(`${REFRESH}_v2`)).toEqual([]);
  });

  it('the cron job prunes duplicates on its own, and its run shows in stats().schedules', async () => {
    const t = await tracker({ cron: '* * * * * *' }); // every second
    await t.recordDeployments([
      deployment('dep-1', 'pending', '2026-06-01T10:00:00Z'),
      deployment('dep-1', 'success', '2026-06-01T10:05:00Z'),
      deployment('dep-2', 'failed', '2026-06-01T11:00:00Z'),
    ]);
    // A slot may fire before the records are in (the cron runs every second): wait for a run
    // that started after they were written.
    const written = Date.now();
    const deadline = written + 10_000;
    let runs: Array<{ outcome: string; startedAt: string | null }> = [];
    while (Date.now() < deadline) {
      runs = ((await t.store.stats()).schedules.find((s) => s.name === PRUNE_JOB)?.runs ?? []).filter(
        (r) => r.startedAt !== null && Date.parse(r.startedAt) >= written,
      );
      if (runs.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(runs[0]?.outcome).toBe('ok');
    expect(await t.deployments.count()).toBe(2);
    expect((await t.listDeployments({ id: 'dep-1' })).map((d) => d.status)).toEqual(['success']);
    expect(t.pruneJob?.name).toBe(PRUNE_JOB);
  });

  it('everything survives close and reopen; the keyring is required to read the tokens', async () => {
    const t = await tracker();
    await t.persistAccessToken(ACCESS);
    await t.persistRefreshToken(REFRESH);
    await t.setData('settings', { theme: 'dark' });
    await t.recordDeployment(deployment('dep-1', 'success', '2026-06-01T10:00:00Z'));
    await t.close();
    const again = await tracker();
    expect(await again.getData('accessToken')).toBe(ACCESS);
    expect(await again.getData('refreshToken')).toBe(REFRESH);
    expect(await again.getData('settings')).toEqual({ theme: 'dark' });
    expect((await again.listDeployments()).map((d) => d.id)).toEqual(['dep-1']);
    expect((await again.store.verify()).ok).toBe(true);
    await again.close();
    // Another keyring does not open the tokens.
    const wrong = `k1:${randomBytes(32).toString('base64')}`;
    await expect(createTracker({ url, keys: wrong, cron: false })).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
  });

  it('refuses to start without a keyring, and refuses unknown options', async () => {
    const saved = process.env.STRATA_KEYS;
    delete process.env.STRATA_KEYS;
    try {
      await expect(createTracker({ url })).rejects.toMatchObject({ code: 'BAD_INPUT' });
      expect(existsSync(join(dir, 'data'))).toBe(false); // refused before anything was created
      await expect(createTracker({ url, keys: KEYS, crn: '* * * * *' } as never)).rejects.toMatchObject({
        code: 'BAD_INPUT',
      });
    } finally {
      if (saved !== undefined) process.env.STRATA_KEYS = saved;
    }
  });

  it('survives kill -9 mid-writes on its default store (file:.strata/deploy-tracker): nothing torn, nothing corrupt', async () => {
    const script = resolve(import.meta.dirname, 'crash-writer.mjs');
    if (!existsSync(resolve(import.meta.dirname, '../../dist/cli/demo-tracker.js'))) {
      throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
    }
    expect(DEFAULT_TRACKER_URL).toBe('file:.strata/deploy-tracker');
    const child = spawn(process.execPath, [script], { cwd: dir, env: { ...process.env, STRATA_KEYS: KEYS } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('close', (_code, signal) => r(signal)));
    const deadline = Date.now() + 20_000;
    while (!stdout.includes('ready') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(stdout, stderr).toContain('ready');
    await new Promise((r) => setTimeout(r, 400)); // let it write a while
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    expect(existsSync(join(dir, '.strata', 'deploy-tracker'))).toBe(true);
    const t = await tracker({ url: `file:${join(dir, '.strata', 'deploy-tracker')}` });
    expect((await t.store.verify()).ok).toBe(true);
    const round = (await t.getData<number>('round'))!;
    expect(round).toBeGreaterThan(1);
    const records = await t.deployments.count();
    expect([round, round + 1]).toContain(records);
    expect([`gho_crash_${round - 1}`, `gho_crash_${round}`]).toContain(await t.getData('accessToken'));
  });
});
