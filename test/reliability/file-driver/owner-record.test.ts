// The lock owner records (`strata.lock.<token>.owner`) are files the file driver writes and
// keeps for the whole life of a connection; `strata.lock` is a hard link to the holder's
// record. They carry a CRC: one flipped byte is reported by verify() and never makes a live
// holder look dead (which would let two writers append at once).
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sealSmallRecord } from '../../../src/drivers/file/small-record.js';
import { Child, files, script, tempDir } from './helpers.js';

const { fileDriver } = files;
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const ownerFiles = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.owner'));

/**
 * Flips one bit in the boot id of an owner record (Linux), else in the last digit of its pid:
 * the record stays well-formed JSON, but names a process that is "certainly gone".
 */
function flipOwner(path: string): void {
  const raw = readFileSync(path);
  const text = raw.toString('utf8');
  const boot = text.indexOf('"boot":"');
  const at = boot >= 0 ? boot + 8 : text.indexOf(',"host"') - 1;
  raw[at] = raw[at]! ^ 0x01;
  writeFileSync(path, raw);
}

describe('file driver: damaged lock owner records', () => {
  // README.md: "`verify()` reads every file in the directory: ... owner records and the
  // compaction claim." A flipped byte in another connection's owner record is reported; a
  // connection whose own record was damaged writes a fresh one before it next takes the lock.
  it('verify() reports a damaged owner record of another connection; its owner rewrites it on its next write', async () => {
    const dir = tempDir('owner-verify');
    cleanups.push(dir.dispose);
    const d1 = fileDriver({ dir: dir.path });
    cleanups.push(() => d1.close());
    await d1.batch([{ type: 'put', space: 'kv.a', key: 'k', value: '1', expiresAt: null }], Date.now());
    const before = new Set(ownerFiles(dir.path));
    const d2 = fileDriver({ dir: dir.path });
    cleanups.push(() => d2.close());
    await d2.batch([{ type: 'put', space: 'kv.a', key: 'k', value: '2', expiresAt: null }], Date.now());
    const theirs = ownerFiles(dir.path).find((name) => !before.has(name))!;
    flipOwner(join(dir.path, theirs));
    const report = await d1.verify();
    expect(report.ok).toBe(false);
    expect(report.issues).toEqual([
      expect.objectContaining({ code: 'CORRUPT', message: expect.stringContaining('owner record is damaged') }),
    ]);
    await d2.batch([{ type: 'put', space: 'kv.a', key: 'k', value: '3', expiresAt: null }], Date.now());
    expect(await d1.verify()).toMatchObject({ ok: true, issues: [] });
  });

  // README.md: "Several processes can share one SQLite file or file store: 4 processes x 2,000
  // `incr` on one key end at exactly 8,000." and (crash/acknowledgement) every acknowledged
  // write is there. After one bit of each connection's owner record was flipped no process judges a live holder's lock
  // stale by the damaged pid or boot id: every increment is counted once.
  it('4 processes x 300 incr after a one-bit flip in each owner record: the count equals the acknowledged incrs', async () => {
    const dir = tempDir('owner-race');
    cleanups.push(dir.dispose);
    const N = 300;
    const workers = Array.from({ length: 4 }, () => new Child(script('incr-worker.mjs'), [dir.path, String(N)]));
    cleanups.push(() => workers.forEach((w) => w.kill()));
    await Promise.all(workers.map((w) => w.waitFor((l) => l === 'R', 30_000)));
    const owners = ownerFiles(dir.path);
    expect(owners.length).toBe(4);
    for (const name of owners) flipOwner(join(dir.path, name));
    for (const w of workers) w.send('go\n');
    await Promise.all(workers.map((w) => w.exited));
    const results = workers.map((w) => {
      const line = w.lines.find((l) => l.startsWith('D '));
      if (!line) throw new Error(`worker gave no result: ${w.stderr}`);
      return JSON.parse(line.slice(2)) as { acked: number; errors: string[] };
    });
    const acked = results.reduce((n, r) => n + r.acked, 0);
    const errors = results.flatMap((r) => r.errors);
    const d = fileDriver({ dir: dir.path });
    cleanups.push(() => d.close());
    let counter: unknown;
    try {
      counter = (await d.get('kv.race', 'counter', Date.now()))?.value;
    } catch (error) {
      counter = `${(error as { code?: string }).code}: ${(error as Error).message.slice(0, 200)}`;
    }
    expect({ counter, errors }).toEqual({ counter: String(acked), errors: [] });
    expect(acked).toBe(4 * N);
  }, 60_000);
});

describe('file driver: empty owner records', () => {
  // README.md: owner records "are written to a temp file and renamed (or linked) into place",
  // so an empty one is nobody's work in progress once a few seconds old: an earlier version's,
  // or a power cut's, debris. Opening the store deletes it (verify() would report it); a
  // younger one is left alone, as its writer may be an earlier version still writing it.
  it('an empty owner record older than 5 s is deleted when the store opens; a younger one is kept', async () => {
    const dir = tempDir('owner-empty');
    cleanups.push(dir.dispose);
    const first = fileDriver({ dir: dir.path });
    await first.batch([{ type: 'put', space: 'kv.a', key: 'k', value: '1', expiresAt: null }], Date.now());
    await first.close();
    const old = join(dir.path, 'strata.lock.0123456789abcdef01234567.owner');
    const young = join(dir.path, 'strata.lock.89abcdef0123456789abcdef.owner');
    writeFileSync(old, '', { mode: 0o600 });
    writeFileSync(young, '', { mode: 0o600 });
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(old, minuteAgo, minuteAgo);
    const d = fileDriver({ dir: dir.path });
    cleanups.push(() => d.close());
    expect((await d.get('kv.a', 'k', Date.now()))?.value).toBe('1');
    expect([existsSync(old), existsSync(young)]).toEqual([false, true]);
  });
});

describe('file driver: a damaged lock file', () => {
  // README.md: "a damaged lock that nobody rewrites ends in `LOCKED` after `lockTimeout`, with a
  // hint to delete `strata.lock` once no process has the store open". Whose it is cannot be
  // told, so it is never broken as stale; once deleted, writes go through.
  it('is LOCKED after lockTimeout with a hint naming the file, never broken; deleting it frees the store', async () => {
    const dir = tempDir('lock-damaged');
    cleanups.push(dir.dispose);
    const record = Buffer.from(
      sealSmallRecord({ pid: 4_000_001, host: hostname(), token: 'deadbeefdeadbeefdeadbeef', at: Date.now() }),
    );
    const pid = record.indexOf('"pid":') + 7;
    record[pid] = record[pid]! ^ 0x01; // a dead pid would be stale; damaged, it names nobody
    const d = fileDriver({ dir: dir.path, lockTimeoutMs: 300 });
    cleanups.push(() => d.close());
    await d.batch([{ type: 'put', space: 'kv.a', key: 'k', value: '1', expiresAt: null }], Date.now());
    writeFileSync(join(dir.path, 'strata.lock'), record, { mode: 0o600 });
    const started = Date.now();
    const error = await d.batch([{ type: 'put', space: 'kv.a', key: 'k', value: '2', expiresAt: null }], Date.now()).then(
      () => null,
      (e: unknown) => e as { code?: string; hint?: string; details?: Record<string, unknown> },
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toMatchObject({ code: 'LOCKED', details: { damaged: true } });
    expect(error?.hint).toContain(join(dir.path, 'strata.lock'));
    expect(readFileSync(join(dir.path, 'strata.lock'))).toEqual(record); // not broken
    rmSync(join(dir.path, 'strata.lock'));
    await d.batch([{ type: 'put', space: 'kv.a', key: 'k', value: '3', expiresAt: null }], Date.now());
    expect((await d.get('kv.a', 'k', Date.now()))?.value).toBe('3');
  });
});

describe('file driver: damaged compaction claim', () => {
  // README.md: "`verify()` reads every file in the directory: ... owner records and the
  // compaction claim." A claim left by a compactor killed mid-compaction, with one flipped
  // digit, is damage verify() reports.
  it('verify() reports a compaction claim with one flipped digit', async () => {
    const dir = tempDir('claim-verify');
    cleanups.push(dir.dispose);
    const d = fileDriver({ dir: dir.path });
    cleanups.push(() => d.close());
    await d.batch([{ type: 'put', space: 'kv.a', key: 'k', value: '1', expiresAt: null }], Date.now());
    // What claimCompaction writes, for a compactor that died.
    const claim = Buffer.from(sealSmallRecord({ pid: 4_000_001, host: hostname(), at: Date.now() }));
    writeFileSync(join(dir.path, 'strata.compacting'), claim, { mode: 0o600 });
    expect((await d.verify()).ok).toBe(true); // undamaged: fine
    const at = claim.indexOf('"at":') + 7;
    claim[at] = claim[at]! ^ 0x01;
    writeFileSync(join(dir.path, 'strata.compacting'), claim, { mode: 0o600 });
    const report = await d.verify();
    expect(report.ok, JSON.stringify(report)).toBe(false);
    expect(report.issues[0]?.message).toContain('compaction claim is damaged');
  });
});
