import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
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
});
