// The migrator lease against a holder that stalls past leaseTtl: a migration step that blocks
// the event loop (a synchronous CPU-bound loop: no renewals) while a second process waits.
// The second takes the lease over, undoes the stalled run and applies the migrations; the
// stalled one must then neither commit its step (the same migration twice) nor restore its
// restore point over the second one's work. Real child processes; the stall ends on a flag
// file the test creates, so no step depends on timing.
import { appendFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, LineChild, tempDir } from '../reliability/helpers.js';
import { open, urlFor } from './migrate-helpers.js';

const STALL = fixture('migrate-stall.mjs');

/**
 * 001_a: logs, increments effects.a, then stalls as told by the process's environment:
 * STALL_SYNC=<flag> busy-waits (event loop blocked) until <flag> exists; STALL_ASYNC=<flag>
 * waits with timers (the lease keeps being renewed). Both print `S` first. 002_b increments b.
 * LOCK_FILE=<file backend's strata.lock>: before blocking, wait until this process holds no
 * file lock (a lease renewal in flight); a process blocked while holding it would make every
 * other process wait for it at the file level, which is not what this test is about.
 */
async function writeMigrations(dir: string, log: string): Promise<void> {
  await mkdir(dir);
  await writeFile(
    join(dir, '001_a.mjs'),
    `import { appendFileSync, existsSync, readFileSync, writeSync } from 'node:fs';
const holdsLock = (file) => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')).pid === process.pid;
  } catch {
    return false;
  }
};
export async function up(m) {
  appendFileSync(${JSON.stringify(log)}, '001_a ' + process.env.ROLE + '\\n');
  await m.kv('effects').incr('a');
  const sync = process.env.STALL_SYNC, later = process.env.STALL_ASYNC, lock = process.env.LOCK_FILE;
  if (lock) while (holdsLock(lock)) await new Promise((r) => setTimeout(r, 2));
  if (sync || later) writeSync(1, 'S\\n');
  if (sync) while (!existsSync(sync)) {}
  if (later) while (!existsSync(later)) await new Promise((r) => setTimeout(r, 20));
}
`,
  );
  await writeFile(
    join(dir, '002_b.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function up(m) {
  appendFileSync(${JSON.stringify(log)}, '002_b ' + process.env.ROLE + '\\n');
  await m.kv('effects').incr('b');
}
`,
  );
}

describe.each(['sqlite', 'file'] as const)('a migrator that stalls past leaseTtl on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  let url: string;
  let migrations: string;
  let log: string;
  const children: LineChild[] = [];
  const start = (role: string, env: Record<string, string> = {}): LineChild => {
    const lock = backend === 'file' ? { LOCK_FILE: join(dir.path, 'store', 'strata.lock') } : {};
    const child = new LineChild(STALL, [url, migrations, '600'], { env: { ...process.env, ROLE: role, ...lock, ...env } });
    children.push(child);
    return child;
  };
  const outcome = (child: LineChild): string => child.lines.find((l) => /^[DE] /.test(l)) ?? `none; stderr: ${child.stderr}`;

  beforeEach(async () => {
    dir = await tempDir('migrate-lease');
    url = urlFor(backend, dir.path);
    migrations = join(dir.path, 'migrations');
    log = join(dir.path, 'effects.log');
    await writeMigrations(migrations, log);
    appendFileSync(log, '');
    const store = await open(url);
    await store.kv('effects').set('probe', 0);
    await store.close();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill();
    await dir.dispose();
  });

  async function expectAppliedOnce(): Promise<void> {
    const store = await open(url);
    try {
      expect(await store.kv('effects').get('a')).toBe(1);
      expect(await store.kv('effects').get('b')).toBe(1);
      expect((await store.migrations.status()).map((s) => [s.name, s.state])).toEqual([
        ['001_a', 'applied'],
        ['002_b', 'applied'],
      ]);
      expect(await store.driver.get('meta.migrations', 'run', Date.now())).toBeNull();
      expect((await store.verify()).ok).toBe(true);
    } finally {
      await store.close();
    }
  }

  it('blocked event loop: the second finishes the run, the stalled one wakes up and stops with LOCKED', async () => {
    const flag = join(dir.path, 'wake');
    const stalled = start('stalled', { STALL_SYNC: flag });
    await stalled.waitFor('S', 30_000);
    const second = start('second');
    await second.exit(60_000);
    expect(outcome(second)).toMatch(/^D /);
    expect(JSON.parse(outcome(second).slice(2))).toMatchObject({
      applied: ['001_a', '002_b'],
      recovered: { action: 'restored' },
    });
    await writeFile(flag, '');
    await stalled.exit(60_000);
    expect(outcome(stalled)).toMatch(/^E LOCKED /);
    await expectAppliedOnce();
  });

  it('the stalled one wakes while the second is inside the same migration: only one commits it', async () => {
    const flag = join(dir.path, 'wake');
    const flag2 = join(dir.path, 'wake2');
    const stalled = start('stalled', { STALL_SYNC: flag });
    await stalled.waitFor('S', 30_000);
    const second = start('second', { STALL_ASYNC: flag2 });
    await second.waitFor('S', 30_000); // it took the lease over, restored, and is inside 001_a
    await writeFile(flag, '');
    await stalled.exit(60_000);
    expect(outcome(stalled)).toMatch(/^E LOCKED /);
    await writeFile(flag2, '');
    await second.exit(60_000);
    expect(outcome(second)).toMatch(/^D /);
    await expectAppliedOnce();
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines.filter((l) => l.startsWith('002_b'))).toEqual(['002_b second']);
  });
});
