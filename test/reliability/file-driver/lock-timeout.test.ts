// How long a write waits on the cross-process lock (src/drivers/file/lock.ts) while a stale lock is being broken.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sealSmallRecord } from '../../../src/drivers/file/small-record.js';
import { files, tempDir } from './helpers.js';

const { fileDriver } = files;
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const put = (v: string) => [{ type: 'put' as const, space: 'kv.a', key: 'k', value: v, expiresAt: null }];

/** A store whose lock was left by a writer killed while holding it, plus `strata.lock.break` holding `breakText`. */
async function leftBehind(name: string, breakText: (deadPid: number) => string): Promise<string> {
  const dir = tempDir(name);
  cleanups.push(dir.dispose);
  const d = fileDriver({ dir: dir.path });
  await d.batch(put('1'), Date.now());
  await d.close();
  const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']));
  const boot = existsSync('/proc/sys/kernel/random/boot_id')
    ? { boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() }
    : {};
  const owner = sealSmallRecord({ pid: dead, host: hostname(), token: 'feedfacefeedfacefeedface', at: Date.now(), ...boot });
  writeFileSync(join(dir.path, 'strata.lock'), owner, { mode: 0o600 });
  writeFileSync(join(dir.path, 'strata.lock.break'), breakText(dead), { mode: 0o600 });
  return dir.path;
}

async function write(dir: string): Promise<{ outcome: string; ms: number }> {
  const d2 = fileDriver({ dir, lockTimeoutMs: 500 });
  cleanups.push(() => d2.close());
  const started = Date.now();
  const outcome = await d2.batch(put('2'), Date.now()).then(
    () => 'written',
    (error: { code?: string }) => String(error.code),
  );
  return { outcome, ms: Date.now() - started };
}

describe('file driver: lock timeout while a stale lock is being broken', () => {
  // README.md: "How long a write waits for another process before failing with `LOCKED`: ...
  // `?lockTimeout=` for `file:` (... default 10 s; `0` fails at once)." The directory holds
  // what two SIGKILLs leave: the lock of a writer killed while holding it, and
  // `strata.lock.break` of a second process killed while breaking that stale lock.
  it('a .break naming a dead breaker is cleared at once: the write goes through', async () => {
    const dir = await leftBehind('lock-break-dead', (dead) =>
      sealSmallRecord({ pid: dead, host: hostname(), token: 'abad1deaabad1deaabad1dea', at: Date.now() }),
    );
    const { outcome, ms } = await write(dir);
    expect(outcome).toBe('written');
    expect(ms).toBeLessThan(3_000);
  });

  it('a .break that names nobody (its breaker died before writing it) keeps the timeout: LOCKED after 500 ms, not 10 s', async () => {
    const dir = await leftBehind('lock-break-empty', () => '');
    const { outcome, ms } = await write(dir);
    expect(outcome).toBe('LOCKED');
    expect(ms).toBeLessThan(3_000);
  });
});
