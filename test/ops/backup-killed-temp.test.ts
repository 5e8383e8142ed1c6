// A backup killed while it writes its part leaves `<id>/.tmp-<pid>-*`, never listed. The next
// prune and the next backup remove it once its process is gone, at once when that process
// ran on this machine; one a process of another machine (or an older version, which did not
// name its machine) may still be writing stays until it is a minute untouched (README
// "Checked"; docs/backups.md "Crashes").
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, LineChild, strata, tempDir } from '../reliability/helpers.js';

let dir: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('backup-killed-temp');
});
afterEach(async () => {
  await dir.dispose();
});

async function temps(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.startsWith('.tmp-')) out.push(join(entry.parentPath, entry.name));
  }
  return out.sort();
}

describe.each(['sqlite', 'file'])('a backup SIGKILLed while it writes its part (%s)', (kind) => {
  it('leaves a .tmp part that the next backup and the next prune each remove, its process being gone', async () => {
    const url = kind === 'sqlite' ? `sqlite:${join(dir.path, 'app.db')}` : `file:${join(dir.path, 'app')}`;
    const to = join(dir.path, 'backups');
    const store = await strata.openStore({ url, sweepInterval: false });
    try {
      await store
        .kv('big')
        .setMany(Array.from({ length: 60_000 }, (_, i) => [`k${i}`, { i, text: `record ${i} `.repeat(8) }] as [string, unknown]));
      const child = new LineChild(fixture('backup-slow.mjs'), [url, to]);
      // Killed once its partial part exists.
      const started = Date.now();
      while ((await temps(to).catch(() => [])).length === 0) {
        expect(Date.now() - started, 'the backup starts writing its part').toBeLessThan(30_000);
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill();
      await child.exit(10_000);
      const left = await temps(to);
      expect(left.length, 'the killed backup left a partial part').toBeGreaterThan(0);
      // Kept aside so that both the backup and the prune each meet it.
      const aside = join(dir.path, 'aside');
      await copyFile(left[0]!, aside);
      await store.backup({ to });
      const afterBackup = await temps(to);
      await mkdir(dirname(left[0]!), { recursive: true });
      await copyFile(aside, left[0]!);
      await store.backups.prune({ keep: 5, dir: to });
      const afterPrune = await temps(to);
      expect({ afterBackup, afterPrune }).toEqual({ afterBackup: [], afterPrune: [] });
      expect((await store.backups.list({ dir: to })).map((b) => 'damaged' in b)).toEqual([false]);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('temp files of writers that may still run elsewhere', () => {
  it('stay until a minute untouched, unless written by a process of this machine that is gone', async () => {
    const store = await strata.openStore({ url: `sqlite:${join(dir.path, 'app.db')}`, sweepInterval: false });
    try {
      const to = join(dir.path, 'backups');
      const ours = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
      const dead = 999_999_999;
      const names = {
        thisMachineGone: `.tmp-${dead}-${ours}0123456789ab`,
        otherMachine: `.tmp-${dead}-ffffffff0123456789ab`.replace('ffffffff', ours === 'ffffffff' ? 'eeeeeeee' : 'ffffffff'),
        olderVersion: `.tmp-${dead}-0123456789ab`,
        olderVersionIdle: `.tmp-${dead}-abcdef012345`,
        thisMachineRunning: `.tmp-${process.pid}-${ours}0123456789ab`,
      };
      // Under ids of backups in progress (a minute old at most), as a killed one leaves them.
      const idOf = (i: number): string => `${new Date(Date.now() - i * 1000).toISOString().replace(/[-:.]/g, '')}-abcdef`;
      const paths = Object.fromEntries(Object.entries(names).map(([what, name], i) => [what, join(to, idOf(i), name)]));
      for (const path of Object.values(paths)) {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, 'partial');
      }
      const idle = new Date(Date.now() - 120_000);
      await utimes(paths.olderVersionIdle!, idle, idle);
      await store.backups.prune({ keep: 5, dir: to });
      const left = (await temps(to)).map((p) => p.slice(p.lastIndexOf('/') + 1)).sort();
      expect(left).toEqual([names.otherMachine, names.olderVersion, names.thisMachineRunning].sort());
    } finally {
      await store.close();
    }
  });
});
