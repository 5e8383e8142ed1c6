import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuild, startStrata, strata } from './helpers.js';

// `strata demo` as a user meets it: the storage it reports is what `strata stats` says right
// after, and Ctrl-C stops it cleanly, saying what was written where.

let root: string;

beforeAll(() => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), 'strata-cli-demo-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const URLS = { sqlite: (d: string) => `sqlite:${join(d, 'demo.db')}`, file: (d: string) => `file:${join(d, 'store')}` };

/** Every file under `dir` whose bytes contain `text`. */
function filesHolding(dir: string, text: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => readFileSync(f).includes(Buffer.from(text, 'utf8')));
}

/** Bytes of every file under `dir` (what a running demo has written so far). */
function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name), { throwIfNoEntry: false })?.size ?? 0;
  }
  return total;
}

describe('strata demo', () => {
  for (const [driver, urlOf] of Object.entries(URLS)) {
    it(`${driver}: the storage size it prints is the one strata stats prints right after`, () => {
      const dir = mkdtempSync(join(root, `${driver}-`));
      const url = urlOf(dir);
      const demo = strata(['--url', url, 'demo', '--records', '3000'], { cwd: dir });
      expect(demo.code, demo.stderr).toBe(0);
      const printed = /storage: (.+) at /.exec(demo.stdout)?.[1];
      const stats = strata(['--url', url, 'stats'], { cwd: dir });
      expect(printed).toBeDefined();
      expect(/^storage\s+(.+)$/m.exec(stats.stdout)?.[1]).toBe(printed);
      // The same in bytes, and the live record counts agree too.
      const demoJson = JSON.parse(strata(['--url', url, '--json', 'demo', '--records', '3000'], { cwd: dir }).stdout) as {
        stats: { storageBytes: number; records: number; collections: Array<{ name: string; records: number }> };
        remaining: number;
      };
      const statsJson = JSON.parse(strata(['--url', url, '--json', 'stats'], { cwd: dir }).stdout) as typeof demoJson.stats;
      expect(demoJson.stats.storageBytes).toBe(statsJson.storageBytes);
      expect(demoJson.stats.records).toBe(statsJson.records);
      expect(statsJson.collections.find((c) => c.name === 'deployments')?.records).toBe(demoJson.remaining);
    });

    it(`${driver}: the tokens are encrypted with a demo keyring made beside the store on the first run and reused`, () => {
      const dir = mkdtempSync(join(root, `${driver}-keys-`));
      const url = urlOf(dir);
      const first = strata(['--url', url, 'demo', '--records', '200'], { cwd: dir });
      expect(first.code, first.stderr).toBe(0);
      const keys = join(dir, 'demo.keys');
      expect(statSync(keys).mode & 0o777).toBe(0o600);
      expect(first.stdout).toContain('stored encrypted (AES-256-GCM) in kv "auth.tokens"');
      expect(first.stdout).toContain('demo keyring demo.keys (created by this run, mode 0600)');
      expect(first.stdout).toContain('--keys-file demo.keys');
      const key = readFileSync(keys, 'utf8');
      const again = JSON.parse(strata(['--url', url, '--json', 'demo', '--records', '200'], { cwd: dir }).stdout) as {
        tokens: { accessTokenKey: string; keyring: Record<string, unknown> };
      };
      expect(again.tokens.keyring).toEqual({ source: 'demo-file', path: 'demo.keys', created: false });
      expect(readFileSync(keys, 'utf8')).toBe(key);
      // The token the demo wrote reads back with the keyring, and is in no file of the store.
      const read = ['--url', url, 'get', 'auth.tokens', again.tokens.accessTokenKey, '--json'];
      const withKeys = strata(['--keys-file', 'demo.keys', ...read], { cwd: dir });
      expect(withKeys.code, withKeys.stderr).toBe(0);
      const token = (JSON.parse(withKeys.stdout) as { token: string }).token;
      expect(token).toMatch(/^gho_/);
      expect(strata(read, { cwd: dir }).code).toBe(5); // DECRYPT_FAILED without it
      const store = url.slice(url.indexOf(':') + 1);
      expect(filesHolding(driver === 'file' ? store : dir, token)).toEqual([]);
      expect(existsSync(store)).toBe(true);
    });

    it(`${driver}: Ctrl-C stops it after a whole batch, says what it wrote and where, and exits 130`, async () => {
      const dir = mkdtempSync(join(root, `${driver}-int-`));
      const url = urlOf(dir);
      // 1M records take far longer than this test waits: the run can only end by the signal.
      const run = startStrata(['--url', url, '--json', 'demo', '--records', '1000000'], { cwd: dir });
      const deadline = Date.now() + 20_000;
      while (bytesUnder(dir) < 2_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const sentAt = Date.now();
      run.child.kill('SIGINT');
      const result = await run.done;
      const stopMs = Date.now() - sentAt;
      expect(result.code, result.stderr).toBe(130);
      expect(stopMs, 'it stops within a batch or two').toBeLessThan(5_000);
      const report = JSON.parse(result.stdout) as {
        interrupted: boolean;
        recordsWritten: number;
        batches: number;
        location: string;
        deployments: number;
        phase: string;
      };
      expect(report).toMatchObject({ interrupted: true, phase: 'insert', location: url.slice(url.indexOf(':') + 1) });
      expect(report.recordsWritten).toBeGreaterThan(0);
      expect(report.recordsWritten).toBeLessThan(1_000_000);
      expect(report.recordsWritten).toBe(report.batches * 250); // whole batches only
      expect(result.stderr).toContain(`wrote ${report.recordsWritten.toLocaleString('en-US')} of 1,000,000 deployment records`);
      expect(result.stderr).toContain(report.location);
      // The store is closed, consistent, and holds exactly what the report says.
      expect(report.deployments).toBe(report.recordsWritten);
      const count = strata(['--url', url, 'query', 'deployments', '--count'], { cwd: dir });
      expect(count.stdout.trim()).toBe(String(report.recordsWritten));
      // The tokens are encrypted with the demo keyring the run made beside the store.
      const verify = strata(['--url', url, '--keys-file', 'demo.keys', 'verify'], { cwd: dir });
      expect(verify.code, verify.stdout).toBe(0);
      // The human summary goes to stderr even with --json.
      expect(result.stderr).toMatch(/^interrupted during "insert"/m);
    });
  }

  it('uses a keyring given in STRATA_KEYS and makes no file; refuses a demo key file others can read', () => {
    const dir = mkdtempSync(join(root, 'env-keys-'));
    const url = URLS.sqlite(dir);
    const env = { STRATA_KEYS: `k1:${randomBytes(32).toString('base64')}` };
    const run = strata(['--url', url, 'demo', '--records', '100'], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Tokens are encrypted with the keyring in STRATA_KEYS.');
    expect(existsSync(join(dir, 'demo.keys'))).toBe(false);
    expect(run.stdout).not.toContain(env.STRATA_KEYS.slice(3));

    const other = mkdtempSync(join(root, 'loose-keys-'));
    expect(strata(['--url', URLS.sqlite(other), 'demo', '--records', '100', '-q'], { cwd: other }).code).toBe(0);
    chmodSync(join(other, 'demo.keys'), 0o644);
    const loose = strata(['--url', URLS.sqlite(other), 'demo', '--records', '100'], { cwd: other });
    expect(loose.code).toBe(2);
    expect(loose.stderr).toMatch(/^error BAD_INPUT/);
    expect(loose.stderr).not.toContain(readFileSync(join(other, 'demo.keys'), 'utf8').trim().slice(5));
  });
});
