// A process taking backups one after another is SIGKILLed at moments spread over a backup
// (seeded, so a failure reproduces): whatever it leaves, list shows only backups that verify
// and restore, and an id without its manifest is NOT_FOUND, never a half backup.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rng } from '../rng.js';
import { fixture, LineChild, sleep, strata, tempDir } from '../reliability/helpers.js';
import { rawDump } from '../../src/testing/backup-suite.js';

let dir: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('backup-kill');
});
afterEach(async () => {
  await dir.dispose();
});

const ID = /^\d{8}T\d{9}Z-[0-9a-f]{6}$/;

describe.each(['sqlite', 'file'])('backups SIGKILLed at random moments (%s)', (kind) => {
  it('leave nothing that list, verify or restore takes for a good backup', async () => {
    const url = kind === 'sqlite' ? `sqlite:${join(dir.path, 'app.db')}` : `file:${join(dir.path, 'app')}`;
    const to = join(dir.path, 'backups');
    const store = await strata.openStore({ url, sweepInterval: false });
    try {
      const rows = Array.from(
        { length: 15_000 },
        (_, i) => [`k${i}`, { i, text: `record ${i} `.repeat(6) }] as [string, unknown],
      );
      await store.kv('big').setMany(rows);
      const content = await rawDump(store, Date.now());
      // How long one backup takes in the child, to spread the kills over it.
      const timing = new LineChild(fixture('backup-looper.mjs'), [url, to]);
      await timing.waitFor('R', 30_000);
      const started = Date.now();
      const done = (): number => timing.lines.filter((l) => l.startsWith('D ')).length;
      await timing.waitFor(() => done() >= 2, 30_000, 'two backups');
      const each = Math.max(20, (Date.now() - started) / 2);
      timing.kill();
      await timing.exit(10_000);

      const random = rng(kind === 'sqlite' ? 9001 : 9002);
      const verified = new Set<string>();
      let killedMidway = 0;
      for (let round = 0; round < 8; round++) {
        const child = new LineChild(fixture('backup-looper.mjs'), [url, to]);
        await child.waitFor('R', 30_000);
        await sleep(Math.round(random() * each * 2.5));
        child.kill();
        await child.exit(10_000);
        const finished = new Set(child.lines.filter((l) => l.startsWith('D ')).map((l) => l.slice(2)));
        const listed = await store.backups.list({ dir: to });
        for (const b of listed) {
          expect('damaged' in b, `round ${round}: ${b.id} listed as damaged`).toBe(false);
          if (verified.has(b.id)) continue;
          expect((await store.backups.verify(b.id, { dir: to })).records, `round ${round}: ${b.id}`).toBe(15_000);
          verified.add(b.id);
        }
        for (const id of finished) expect(listed.map((b) => b.id)).toContain(id);
        // Directories without a manifest: a backup that never finished, never restorable.
        const ids = new Set(listed.map((b) => b.id));
        for (const name of await readdir(to).catch(() => [] as string[])) {
          if (!ID.test(name) || ids.has(name)) continue;
          killedMidway++;
          expect(
            await store.restore(name, { dir: to }).then(
              () => 'restored',
              (e: { code?: string }) => e.code,
            ),
          ).toBe('NOT_FOUND');
        }
      }
      expect(verified.size + killedMidway).toBeGreaterThan(0);
      // The store itself was only read, and the newest backup restores it exactly.
      expect(await rawDump(store, Date.now())).toBe(content);
      const newest = (await store.backups.list({ dir: to }))[0];
      if (newest !== undefined) {
        await store.kv('big').clear();
        await store.restore(newest.id, { dir: to });
        expect(await rawDump(store, Date.now())).toBe(content);
      }
      expect((await store.verify()).ok).toBe(true);
    } finally {
      await store.close();
    }
  }, 120_000);
});
