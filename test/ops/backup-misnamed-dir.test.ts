// A backup directory keeps its id as its name. An intact backup copied under another backup's
// id is refused by restore and verify with BAD_INPUT naming the id to rename it to (never
// CORRUPT: nothing in it is damaged), the store unchanged; `list` shows it as intact, and a
// point-in-time restore from a directory holding it uses the backups it can take (README
// "Where"; docs/backups.md "API").
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError } from '../../src/index.js';
import { errorOf } from '../store-fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-backup-misnamed-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a backup directory copied under another backup id', () => {
  it('is BAD_INPUT naming the id to rename it to for restore, a dry run and verify; listed as intact', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'app.db')}`, sweepInterval: false });
    try {
      await store.kv('a').set('x', 1);
      const backup = await store.backup({ to: join(dir, 'backups') });
      await store.kv('a').set('x', 2);
      const elsewhere = join(dir, 'elsewhere');
      const renamed = join(elsewhere, '20200101T000000000Z-abcdef');
      await cp(backup.path, renamed, { recursive: true });
      for (const [what, call] of [
        ['restore by path', () => store.restore(renamed)],
        ['dry run', () => store.restore(renamed, { dryRun: true })],
        ['restore by id', () => store.restore('20200101T000000000Z-abcdef', { dir: elsewhere })],
        ['verify', () => store.backups.verify(renamed)],
      ] as const) {
        const error = await errorOf(call());
        expect(error, what).toBeInstanceOf(StrataError);
        const e = error as StrataError;
        expect({ code: e.code, namesId: `${e.message} ${e.hint ?? ''}`.includes(backup.id) }, what).toEqual({
          code: 'BAD_INPUT',
          namesId: true,
        });
      }
      expect(await store.kv('a').get('x')).toBe(2);
      const listed = await store.backups.list({ dir: elsewhere });
      expect(listed).toHaveLength(1);
      expect(listed[0]).not.toHaveProperty('damaged');
      expect(listed[0]).toMatchObject({ id: '20200101T000000000Z-abcdef', path: renamed, checksum: backup.checksum });
    } finally {
      await store.close();
    }
  });

  it('is passed over by a point-in-time restore from that directory, which uses an intact one', async () => {
    let clock = Date.UTC(2026, 5, 1);
    const store = await openStore({
      url: `sqlite:${join(dir, 'app.db')}`,
      journal: { retention: '7d' },
      sweepInterval: false,
      clock: () => clock,
    });
    try {
      const to = join(dir, 'backups');
      await store.kv('a').set('x', 1);
      const good = await store.backup({ to });
      clock += 1000;
      await store.kv('a').set('x', 2);
      clock += 1000;
      // The newest name in the directory, holding the backup taken first.
      await cp(good.path, join(to, '20260601T000001500Z-abcdef'), { recursive: true });
      const noted = clock;
      clock += 1000;
      await store.kv('a').set('x', 3);
      const result = await store.restore(to, { toTime: noted });
      expect(result.id).toBe(good.id);
      expect(await store.kv('a').get('x')).toBe(2);
    } finally {
      await store.close();
    }
  });
});
