// A restore never changes the journal's retention: the store keeps the one it was last
// opened with (docs/journal.md "Every process journals"). A backup taken under a shorter one
// would otherwise have the journal pruned sooner than configured, and a point-in-time restore
// the configured retention allows would be NOT_FOUND.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/index.js';
import { bottomDriver } from '../../src/ops/image.js';
import { readJournalState } from '../../src/ops/journal-state.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-journal-retention-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const day = 24 * 3600_000;
const retentionOf = async (store: Store, now: number): Promise<number | undefined> =>
  (await readJournalState(bottomDriver(store), now))?.state.retentionMs;

describe('journal retention across a restore', () => {
  it('a store switched from 1d to 30d keeps 30d after restoring a backup taken under 1d', async () => {
    let clock = Date.UTC(2026, 5, 1);
    const url = `sqlite:${join(dir, 'app.db')}`;
    const to = join(dir, 'backups');
    let store = await openStore({ url, journal: { retention: '1d' }, sweepInterval: false, clock: () => clock });
    await store.kv('a').set('x', 1);
    const old = await store.backup({ to });
    await store.close();
    clock += 1000;
    // The operator raises the retention to 30 days.
    store = await openStore({ url, journal: { retention: '30d' }, sweepInterval: false, clock: () => clock });
    await store.restore(old.id, { dir: to });
    expect(await retentionOf(store, clock)).toBe(30 * day);
    clock += 1000;
    const after = await store.backup({ to });
    clock += 1000;
    await store.kv('a').set('y', 2);
    clock += 1000;
    const noted = new Date(clock);
    clock += 1000;
    await store.kv('a').set('z', 3);
    await store.close();
    // Two days later another process (opened without the option: it uses the remembered one) sweeps.
    clock += 2 * day;
    store = await openStore({ url, sweepInterval: false, clock: () => clock });
    try {
      await store.purgeExpired();
      const result = await store.restore(after.id, { dir: to, toTime: noted, dryRun: true }).then(
        (r) => `entries ${r.pointInTime?.entries}`,
        (e: { code: string; message: string }) => `${e.code}: ${e.message}`,
      );
      expect(result).toBe('entries 1');
    } finally {
      await store.close();
    }
  });

  it.each(['sqlite', 'file'])('the live retention is kept, not the longer one: 30d lowered to 1d stays 1d (%s)', async (kind) => {
    const clock = Date.UTC(2026, 5, 1);
    const url = kind === 'sqlite' ? `sqlite:${join(dir, 'app.db')}` : `file:${join(dir, 'app')}`;
    const to = join(dir, 'backups');
    let store = await openStore({ url, journal: { retention: '30d' }, sweepInterval: false, clock: () => clock });
    await store.kv('a').set('x', 1);
    const old = await store.backup({ to });
    await store.close();
    store = await openStore({ url, journal: { retention: '1d' }, sweepInterval: false, clock: () => clock });
    try {
      await store.restore(old.id, { dir: to });
      expect(await retentionOf(store, clock)).toBe(day);
      await store.restore(old.id, { dir: to, toTime: clock });
      expect(await retentionOf(store, clock)).toBe(day);
      expect(await store.kv('a').get('x')).toBe(1);
    } finally {
      await store.close();
    }
  });
});
