// A backup that another process deletes while `list` or `prune` reads the directory (a cron
// `strata backup prune` next to the app's own backups and prunes) is simply gone: a backup
// fewer in the answer, never an error (README "Backups and restore"; docs/backups.md "API").
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, localTarget, type BackupTarget } from '../../src/index.js';
import { LineChild, strata, tempDir } from '../reliability/helpers.js';

const looper = fileURLToPath(new URL('./backup-prune-loop.mjs', import.meta.url));

let dir: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('backup-prune-race');
});
afterEach(async () => {
  await dir.dispose();
});

/**
 * The local target of `root`, where backup `victim` is deleted by "another process" at the
 * moment its manifest is read: before the read opens it (`'before-open'`), or once it is open
 * and reading fails the way a file unlinked under a stream does (`'while-reading'`).
 */
function racingTarget(root: string, victim: string, when: 'before-open' | 'while-reading'): BackupTarget {
  const base = localTarget(root);
  const manifest = `${victim}/manifest.json`;
  return {
    ...base,
    async get(name) {
      if (name !== manifest) return base.get(name);
      if (when === 'before-open') {
        await rm(join(root, victim), { recursive: true, force: true });
        return base.get(name);
      }
      await rm(join(root, victim), { recursive: true, force: true });
      return Readable.from(
        (async function* () {
          yield* [];
          throw Object.assign(new Error(`ENOENT: no such file or directory, open '${manifest}'`), { code: 'ENOENT' });
        })(),
      );
    },
  };
}

describe.each(['before-open', 'while-reading'] as const)(
  'a backup deleted by another process as its manifest is read (%s)',
  (when) => {
    it('is left out of list and prune, which answer for the others', async () => {
      let clock = Date.UTC(2026, 5, 1);
      const store = await openStore({ url: `sqlite:${join(dir.path, 'app.db')}`, sweepInterval: false, clock: () => clock });
      try {
        await store.kv('a').set('x', 1);
        const to = join(dir.path, 'backups');
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          ids.push((await store.backup({ to })).id);
          clock += 3600_000;
        }
        const listed = await store.backups.list({ dir: racingTarget(to, ids[1]!, when) });
        expect(listed.map((b) => b.id)).toEqual([ids[2], ids[0]]);
        for (const b of listed) expect(b).not.toHaveProperty('damaged');
        // The next one goes while a prune reads it: the prune keeps and deletes among the rest.
        const pruned = await store.backups.prune({ keep: 1, dir: racingTarget(to, ids[2]!, when) });
        expect(pruned).toEqual({ deleted: [], kept: [ids[0]] });
        expect((await store.backups.list({ dir: to })).map((b) => b.id)).toEqual([ids[0]]);
      } finally {
        await store.close();
      }
    });
  },
);

describe('two processes backing up and pruning the same directory', () => {
  it('list, prune and backup never fail because the other process removed a backup meanwhile', async () => {
    const url = `sqlite:${join(dir.path, 'app.db')}`;
    const to = join(dir.path, 'backups');
    const store = await strata.openStore({ url, sweepInterval: false });
    try {
      await store.kv('a').setMany(Array.from({ length: 200 }, (_, i) => [`k${i}`, i] as [string, number]));
      const children = [1, 2].map(() => new LineChild(looper, [url, to, '2500']));
      await Promise.all(children.map((c) => c.waitFor('R', 30_000)));
      const errors: string[] = [];
      const started = Date.now();
      while (Date.now() - started < 2500) {
        try {
          await store.backups.list({ dir: to });
        } catch (error) {
          errors.push(`parent list: ${(error as { code?: string }).code} ${(error as Error).message}`);
        }
      }
      await Promise.all(children.map((c) => c.exit(30_000)));
      for (const c of children) errors.push(...c.lines.filter((l) => l.startsWith('E ')));
      const made = children.flatMap((c) => c.lines.filter((l) => l.startsWith('D ')));
      expect(made.length).toBeGreaterThan(4);
      expect([...new Set(errors.map((e) => e.replace(/\d{8}T\d{9}Z-[0-9a-f]{6}/g, '<id>')))]).toEqual([]);
      // What is left is good.
      for (const b of await store.backups.list({ dir: to })) expect(b).not.toHaveProperty('damaged');
    } finally {
      await store.close();
    }
  }, 60_000);
});
