import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { requireBuild, strata } from '../cli/helpers.js';

// Progress of long work when stderr is not a terminal (a log, CI).

let root: string;
beforeAll(() => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), 'strata-backup-progress-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('backup create on a file: store shows progress', () => {
  // README.md "## CLI": "Progress bars go to stderr, and only on a terminal (elsewhere, a plain
  // line at each tenth of the work; nothing with `--json` or `--quiet`)". sqlite stores report
  // the bytes of the backup, file: stores the records written of those in the snapshot.
  it('stderr has progress lines, as for sqlite', async () => {
    const urls = { sqlite: `sqlite:${join(root, 'p.db')}`, file: `file:${join(root, 'p-files')}` };
    for (const url of Object.values(urls)) {
      const store = await openStore({ url, sweepInterval: false });
      const kv = store.kv('app');
      for (let i = 0; i < 5000; i += 500) {
        await kv.setMany(Array.from({ length: 500 }, (_, j) => [`k${i + j}`, { i: i + j, pad: 'p'.repeat(100) }] as const));
      }
      await store.close();
    }
    const lines = (url: string): string[] => {
      const r = strata(['--url', url, 'backup', 'create', '--to', join(root, 'backups')], { cwd: root });
      expect(r.code, r.stderr).toBe(0);
      return r.stderr.split('\n').filter((l) => /\d+%/.test(l));
    };
    expect(lines(urls.sqlite).length).toBeGreaterThan(0);
    const file = lines(urls.file);
    expect(file.length, 'no progress line for the file: store').toBeGreaterThan(0);
    expect(file.at(-1)).toMatch(/^backup: 100% \(5,000 of 5,000, /);
  }, 40_000);
});
