// `store.restore(...).records` is the backup's record count (`backup.records`), as its dry run
// reports it, on every driver, plain and point in time: not what the swap loads, which also
// holds Strata's own restore mark and, after a point-in-time restore, the replayed records
// (README "Backups and restore"; docs/journal.md "Point-in-time restore").
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-restore-report-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const urlOf = (kind: string): string =>
  kind === 'sqlite' ? `sqlite:${join(dir, 'app.db')}` : kind === 'file' ? `file:${join(dir, 'app')}` : 'memory:';

describe.each(['sqlite', 'file', 'memory'])('restore of a journaled store (%s)', (kind) => {
  it("a dry run reports the records the restore then reports, which are the backup's", async () => {
    const store = await openStore({ url: urlOf(kind), journal: { retention: '7d' }, sweepInterval: false });
    try {
      await store.kv('a').setMany([
        ['x', 1],
        ['y', 2],
      ]);
      const backup = await store.backup({ to: join(dir, 'backups') });
      await store.kv('a').set('z', 3);
      const dry = await store.restore(backup.path, { dryRun: true });
      const real = await store.restore(backup.path);
      expect({ dry: dry.records, real: real.records }).toEqual({ dry: backup.records, real: backup.records });
    } finally {
      await store.close();
    }
  });

  it('point in time: the dry run and the restore report the same records (the backup used)', async () => {
    const store = await openStore({ url: urlOf(kind), journal: { retention: '7d' }, sweepInterval: false });
    try {
      await store.kv('a').setMany([
        ['x', 1],
        ['y', 2],
      ]);
      const backup = await store.backup({ to: join(dir, 'backups') });
      await store.kv('a').set('z', 3);
      await new Promise((r) => setTimeout(r, 5));
      const toTime = new Date();
      await new Promise((r) => setTimeout(r, 5));
      const dry = await store.restore(backup.path, { toTime, dryRun: true });
      const real = await store.restore(backup.path, { toTime });
      expect(dry.pointInTime).toEqual(real.pointInTime);
      expect({ dry: dry.records, real: real.records }).toEqual({ dry: backup.records, real: backup.records });
    } finally {
      await store.close();
    }
  });
});
