// `prune` counts only backups restore takes toward `keep`; one it cannot take (damaged, of a
// newer format, or under another backup's id) is never deleted while there is room for it:
// `keep` not filled by restorable ones means nothing needs that room, and a newer version of
// Strata may restore it (README "Retention", docs/backups.md "API").
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-prune-retention-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = (data: string): string => createHash('sha256').update(data).digest('hex');
const day = 24 * 3600_000;

/** The manifest as a newer Strata would write it: a good checksum, format strata-backup/2. */
async function makeNewerFormat(path: string): Promise<void> {
  const { checksum: _, ...rest } = JSON.parse(await readFile(join(path, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const m = { ...rest, format: 'strata-backup/2' };
  const body = JSON.stringify({ ...m, checksum: undefined });
  await writeFile(join(path, 'manifest.json'), `${JSON.stringify({ ...m, checksum: `sha256:${sha(body)}` }, null, 2)}\n`);
}

/** A store with `count` backups a day apart, oldest first; the clock ends a day after the last. */
async function withBackups(count: number, run: (store: Store, ids: string[], paths: string[]) => Promise<void>): Promise<void> {
  let clock = Date.UTC(2026, 5, 1);
  const store = await openStore({ url: `sqlite:${join(dir, 'app.db')}`, sweepInterval: false, clock: () => clock });
  try {
    await store.kv('a').set('x', 1);
    const ids: string[] = [];
    const paths: string[] = [];
    for (let i = 0; i < count; i++) {
      const b = await store.backup();
      ids.push(b.id);
      paths.push(b.path);
      clock += day;
    }
    await run(store, ids, paths);
  } finally {
    await store.close();
  }
}

describe('prune({ keep }) over backups this version cannot read', () => {
  it('keep: 7 with three backups, all of a newer format: deletes none of them', async () => {
    await withBackups(3, async (store, _ids, paths) => {
      for (const path of paths) await makeNewerFormat(path);
      expect((await store.backups.list()).every((b) => 'damaged' in b)).toBe(true);
      expect((await store.backups.prune({ keep: 7 })).deleted).toEqual([]);
      expect((await store.backups.list()).length).toBe(3);
    });
  });

  it('keep not filled by good backups: damaged ones older than every good one stay too', async () => {
    await withBackups(4, async (store, ids, paths) => {
      await makeNewerFormat(paths[0]!);
      await writeFile(join(paths[1]!, 'manifest.json'), 'garbage');
      expect(await store.backups.prune({ keep: 3 })).toEqual({ deleted: [], kept: [...ids].reverse() });
    });
  });

  it('keep filled by good backups: damaged ones older than the oldest good one kept go', async () => {
    await withBackups(4, async (store, ids, paths) => {
      await makeNewerFormat(paths[0]!);
      await writeFile(join(paths[1]!, 'manifest.json'), 'garbage');
      expect(await store.backups.prune({ keep: 2 })).toEqual({ deleted: [ids[1], ids[0]], kept: [ids[3], ids[2]] });
    });
  });

  it('a backup copied under another id is listed as intact but not counted toward keep', async () => {
    await withBackups(2, async (store, ids, paths) => {
      // A copy of the newest one under a newer id: restore refuses it until it is renamed.
      const copy = '20260602T120000000Z-c0c0c0';
      await cp(paths[1]!, join(dir, 'backups', 'app.db', copy), { recursive: true });
      const listed = await store.backups.list();
      expect(listed.map((b) => b.id)).toEqual([copy, ids[1], ids[0]]);
      expect(listed[0]).not.toHaveProperty('damaged');
      // Counted, it would take the place of ids[1]; it stays only as newer than the one kept.
      expect(await store.backups.prune({ keep: 1 })).toEqual({ deleted: [ids[0]], kept: [copy, ids[1]] });
    });
  });
});
