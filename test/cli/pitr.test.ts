// `strata restore <backup> --to-time`: point-in-time restore from the CLI, on a store that
// keeps a change journal (remembered in the store, so the CLI journals too).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { requireBuild, strata } from './helpers.js';

let cwd: string;
beforeAll(() => requireBuild());
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'strata-pitr-cli-'));
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('strata restore --to-time', () => {
  it('restores the state at the noted time: the backup plus the journal replayed up to it', async () => {
    const url = `sqlite:${join(cwd, 'app.db')}`;
    const store = await openStore({ url, journal: { retention: '7d' } });
    const kv = store.kv('cfg');
    await kv.set('a', 1);
    const backup = await store.backup();
    await kv.set('b', 2);
    await pause(20);
    const noted = new Date();
    await pause(20);
    await kv.set('a', 100);
    await kv.delete('b');
    await store.close();

    const dry = strata(['--url', url, 'restore', backup.id, '--to-time', noted.toISOString(), '--dry-run', '--json'], { cwd });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { dryRun: boolean; pointInTime: { entries: number } };
    expect(plan.dryRun).toBe(true);
    expect(plan.pointInTime.entries).toBe(1);

    const human = strata(['--url', url, 'restore', backup.id, '--to-time', String(noted.getTime())], { cwd });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('replayed 1 journal entry (seq');
    const reopened = await openStore(url);
    expect(await reopened.kv('cfg').get('a')).toBe(1);
    expect(await reopened.kv('cfg').get('b')).toBe(2);
    await reopened.close();

    const bad = strata(['--url', url, 'restore', backup.id, '--to-time', 'yesterday-ish'], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('BAD_INPUT');
  });
});
