import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { requireBuild, startStrata, strata } from '../cli/helpers.js';

// Ctrl-C of long CLI operations. README.md "## CLI": "Other commands (unless their section
// says otherwise) stop at once on Ctrl-C and exit 130: a write in progress is whole or absent,
// as after a crash". `strata rotate-keys --help`: "It is safe while the app runs and can be
// stopped at any time: a rerun skips what is done." Temp files of an interrupted export or
// backup do not stay behind.

let root: string;
let seeded: string;
let keysOld: string;
let keysNew: string;
const RECORDS = 60_000;

beforeAll(async () => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), 'strata-ctrl-c-'));
  const k1 = `k1:${randomBytes(32).toString('base64')}`;
  const k2 = `k2:${randomBytes(32).toString('base64')}`;
  keysOld = join(root, 'old.keys');
  keysNew = join(root, 'new.keys');
  writeFileSync(keysOld, `${k1}\n`, { mode: 0o600 });
  writeFileSync(keysNew, `${k2},${k1}\n`, { mode: 0o600 });
  // A sqlite store with 60,000 encrypted values: rotate-keys takes ~5 s, verify ~2 s on it.
  seeded = join(root, 'seed.db');
  const store = await openStore({ url: `sqlite:${seeded}`, encryption: { keys: k1 }, sweepInterval: false });
  const kv = store.kv('sec', { encrypt: true });
  for (let i = 0; i < RECORDS; i += 1000) {
    await kv.setMany(
      Array.from({ length: 1000 }, (_, j) => [`k${String(i + j).padStart(7, '0')}`, { i: i + j, s: 'x'.repeat(50) }] as const),
    );
  }
  await store.close();
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

function freshCopy(name: string): string {
  const path = join(root, `${name}.db`);
  copyFileSync(seeded, path);
  return path;
}

async function waitFor(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  for (const started = Date.now(); !cond();) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Ctrl-C stops long sqlite commands', () => {
  // The sqlite driver resolves as microtasks, so a SIGINT listener runs only where the work
  // lets the event loop turn. rotate-keys yields between its batches: the listener exits 130
  // between two atomic batches. verify is synchronous inside SQLite, and writes nothing: it
  // runs without the listener, so the signal itself ends it at once (the shell reports 130).
  it.each([
    {
      name: 'rotate-keys',
      args: ['--keys-file', 'NEW', 'rotate-keys'],
      progress: 'rotating: 10%',
      last: 'rotating: 100%',
      bySignal: false,
    },
    {
      name: 'verify',
      args: ['--keys-file', 'OLD', 'verify'],
      progress: 'decrypting: 10%',
      last: 'decrypting: 100%',
      bySignal: true,
    },
  ])(
    '$name stops soon after SIGINT, with status 130',
    async ({ name, args, progress, last, bySignal }) => {
      const db = freshCopy(name);
      const argv = args.map((a) => (a === 'NEW' ? keysNew : a === 'OLD' ? keysOld : a));
      const { child, done } = startStrata(['--url', `sqlite:${db}`, ...argv], { cwd: root });
      let stderr = '';
      child.stderr.on('data', (d: string) => (stderr += d));
      await waitFor(() => stderr.includes(progress), `"${progress}"`);
      const sent = Date.now();
      child.kill('SIGINT');
      const result = await done;
      const took = Date.now() - sent;
      const status = result.signal === 'SIGINT' ? 130 : result.code; // what a shell reports
      expect(result.signal).toBe(bySignal ? 'SIGINT' : null);
      expect(status, `exit ${result.code} ${took} ms after SIGINT; stderr tail: ${result.stderr.slice(-200)}`).toBe(130);
      expect(result.stderr).not.toContain(last);
      expect(took).toBeLessThan(1500);
    },
    40_000,
  );
});

describe('Ctrl-C of an export leaves no partial file', () => {
  // README.md "### Export and import": "it is written to a temp file (0600), fsynced and
  // renamed, so a failed export leaves no partial file." The CLI's Ctrl-C ends the process
  // with process.exit, and the temp file goes with it (an exit handler removes it).
  it('the target directory holds nothing after SIGINT mid-export', async () => {
    const out = join(root, 'exports');
    mkdirSync(out);
    const { child, done } = startStrata(['--url', `sqlite:${seeded}`, 'export', join(out, 'app.strata')], { cwd: root });
    await waitFor(() => readdirSync(out).some((f) => f.endsWith('.tmp')), 'the temp file');
    child.kill('SIGINT');
    const result = await done;
    expect(result.code).toBe(130);
    expect(readdirSync(out)).toEqual([]);
  }, 40_000);
});

describe('an interrupted rotation resumes', () => {
  it('rotate-keys killed (SIGKILL) mid-way: a rerun finishes, verify is clean', async () => {
    const db = freshCopy('killed');
    const url = `sqlite:${db}`;
    const { child, done } = startStrata(['--url', url, '--keys-file', keysNew, 'rotate-keys'], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (d: string) => (stderr += d));
    await waitFor(() => stderr.includes('rotating: 30%'), 'rotating: 30%');
    child.kill('SIGKILL');
    await done;
    const rerun = strata(['--url', url, '--keys-file', keysNew, '--json', 'rotate-keys'], { cwd: root });
    expect(rerun.code).toBe(0);
    const report = JSON.parse(rerun.stdout) as { keysInUse: Record<string, number>; retired: string[] };
    expect(report.keysInUse).toEqual({ k2: RECORDS });
    expect(report.retired).toEqual(['k1']);
    expect(strata(['--url', url, '--keys-file', keysNew, '-q', 'verify'], { cwd: root }).code).toBe(0);
  }, 40_000);
});

describe('a partial backup part of a process that is gone', () => {
  // A backup killed while writing its part leaves `<backups>/<id>/.tmp-<pid>-<hex>`, which
  // `backup list` never shows. `backup prune` (and the next `backup create`) remove it once
  // its writer is gone, and the backup directory it leaves empty.
  it('backup prune removes it; a temp file of a live process stays', () => {
    const db = freshCopy('pruned');
    const url = `sqlite:${db}`;
    const backups = join(root, 'prune-backups');
    expect(strata(['--url', url, '-q', 'backup', 'create', '--to', backups], { cwd: root }).code).toBe(0);
    const dead = join(backups, '20200101T000000000Z-dead00');
    mkdirSync(dead);
    const stale = join(dead, '.tmp-999999999-0123456789ab');
    writeFileSync(stale, 'partial');
    const old = new Date(Date.now() - 120_000);
    utimesSync(stale, old, old);
    const live = join(backups, '20200101T000000000Z-live00');
    mkdirSync(live);
    writeFileSync(join(live, `.tmp-${process.pid}-0123456789ab`), 'in progress');

    const r = strata(['--url', url, 'backup', 'prune', '--keep', '5', '--dir', backups], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(dead)).toBe(false);
    expect(readdirSync(live)).toEqual([`.tmp-${process.pid}-0123456789ab`]);
  });
});
