// A migrator undoing a run restores a backup that holds an older lease record, often one of
// a process that is gone. Another waiting migrator must not find that record between the swap
// and the restorer's renewal and take the lease over (the restorer then stopped with LOCKED
// although it never stalled: seen as a flake of migrate-kill-race). The restore keeps the live
// lease instead.
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StrataError } from '../../src/index.js';
import { openStore, type Store } from '../../src/index.js';
import { LOCK_SPACE, MigratorLease } from '../../src/ops/migrate-lock.js';
import { restoreBackup } from '../../src/ops/backup.js';
import { tempDir } from '../reliability/helpers.js';
import { urlFor } from './migrate-helpers.js';

// Above the largest pid_max Linux allows (2^22): no process has it.
const GONE = `${hostname()}:4194305`;

describe.each(['sqlite', 'file'] as const)('a migrator restoring a backup keeps its lease, on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  let store: Store;
  beforeEach(async () => {
    dir = await tempDir('lease-restore');
    store = await openStore({ url: urlFor(backend, dir.path), sweepInterval: false });
  });
  afterEach(async () => {
    await store.close();
    await dir.dispose();
  });

  it('another waiting migrator cannot take over the backup copy of a dead holder', async () => {
    const now = Date.now();
    await store.kv('app').set('theme', 'dark');
    // The lease as a migrator killed mid-run left it, in its restore point too.
    const dead = JSON.stringify({ owner: `${GONE}:x`, process: GONE, until: now + 60_000, seq: 1 });
    await store.driver.batch([{ type: 'put', space: LOCK_SPACE, key: 'lease', value: dead, expiresAt: null }], now);
    const backups = `${dir.path}/backups`;
    const point = await store.backup({ to: backups });
    await store.kv('app').set('theme', 'light');

    const restorer = new MigratorLease(store.driver, Date.now, 30_000);
    await restorer.acquire(0); // the holder is gone: taken at once
    const waiter = new MigratorLease(store.driver, Date.now, 30_000);
    let waiterGot: unknown = 'not tried';
    try {
      await restorer.restoring(async () => {
        await restoreBackup(store, point.path, { keepLive: [LOCK_SPACE] });
        // The moment between the swap and the restorer's renewal.
        waiterGot = await waiter.acquire(0).then(
          () => 'taken',
          (error: unknown) => (error as StrataError).code,
        );
      }, `${GONE}:x`);
      expect(waiterGot).toBe('TIMEOUT');
      expect(() => restorer.check()).not.toThrow();
      expect(await store.kv('app').get('theme')).toBe('dark');
    } finally {
      await restorer.release();
      await waiter.release();
    }
  });

  it('a plain restore still brings back the backup copy of the lease (a running migrator then stops)', async () => {
    const now = Date.now();
    const old = JSON.stringify({ owner: 'elsewhere:1:x', process: 'elsewhere:1', until: now + 60_000, seq: 1 });
    await store.driver.batch([{ type: 'put', space: LOCK_SPACE, key: 'lease', value: old, expiresAt: null }], now);
    const point = await store.backup({ to: `${dir.path}/backups` });
    await store.driver.batch([{ type: 'delete', space: LOCK_SPACE, key: 'lease' }], now);
    const running = new MigratorLease(store.driver, Date.now, 30_000);
    await running.acquire(0);
    await store.restore(point.path);
    expect((await store.driver.get(LOCK_SPACE, 'lease', Date.now()))?.value).toBe(old);
    // The migrator that was running finds its lease gone and writes nothing more.
    await expect(running.exclusive(async () => 'written')).rejects.toMatchObject({ code: 'LOCKED' });
    await running.release();
  });
});
