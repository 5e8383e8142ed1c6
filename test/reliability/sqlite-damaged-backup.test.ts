// A SQLite store damaged in the middle of its file: backup and export meet the damaged pages
// and must say CORRUPT (damage), not UNAVAILABLE (retry later), and leave no backup behind.
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { strata, tempDir } from './helpers.js';

let dir: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('sqlite-damaged-backup');
});
afterEach(async () => {
  await dir.dispose();
});

describe('backup and export of a damaged SQLite store', () => {
  it('are CORRUPT, and no backup is listed', async () => {
    const url = `sqlite:${join(dir.path, 's.db')}`;
    const seed = await strata.openStore({ url, sweepInterval: false });
    await seed.kv('a').setMany(Array.from({ length: 3000 }, (_, i): [string, unknown] => [`k${i}`, { v: 'x'.repeat(100), i }]));
    await seed.close();
    const file = join(dir.path, 's.db');
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(statSync(file).size / 2));
    closeSync(fd);

    const store = await strata.openStore({ url, sweepInterval: false });
    try {
      const backups = join(dir.path, 'backups');
      await expect(store.backup({ to: backups })).rejects.toMatchObject({ code: 'CORRUPT' });
      expect(await store.backups.list({ dir: backups })).toEqual([]);
      await expect(store.export(join(dir.path, 'x.strata'))).rejects.toMatchObject({ code: 'CORRUPT' });
    } finally {
      await store.close();
    }
  });
});
