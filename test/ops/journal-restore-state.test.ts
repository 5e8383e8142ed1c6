import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store.js';
import { StrataError } from '../../src/errors.js';
import { bottomDriver } from '../../src/ops/transfer/context.js';
import { rawDump } from '../../src/testing/transfer-suite.js';
import type { Driver } from '../../src/drivers/driver.js';

/**
 * store.restore(backup) without toTime on a store whose journal record (meta.journal-state)
 * became damaged after this process opened it. The record says the store keeps a journal,
 * which "cannot be turned off again": a restore that cannot carry the journal over is refused
 * (CORRUPT, store unchanged) instead of silently leaving a store without one. A backup that
 * holds its own journal record repairs it, as the CORRUPT hint ("restore the store from a
 * backup") promises.
 */

const root = mkdtempSync(join(tmpdir(), 'strata-journal-restore-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

async function damageState(driver: Driver): Promise<void> {
  await driver.batch(
    [{ type: 'put', space: 'meta.journal-state', key: 'state', value: '{"format":1,"retentionMs":"x"}', expiresAt: null }],
    Date.now(),
  );
}

describe('restore with a damaged live journal record', () => {
  it('a backup from before the journal: CORRUPT, the store unchanged (the journal is not dropped)', async () => {
    const url = `sqlite:${join(root, `a${n++}.db`)}`;
    const backups = join(root, `a-backups-${n}`);
    const plain = await openStore({ url, sweepInterval: false });
    await plain.kv('app').set('a', 1);
    const early = await plain.backup({ to: backups });
    await plain.close();
    const store = await openStore({ url, journal: { retention: '7d' }, sweepInterval: false });
    await store.kv('app').set('b', 2);
    await damageState(bottomDriver(store.driver));
    const before = await rawDump(store, Date.now());
    const error = await store.restore(early.id, { dir: backups }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StrataError);
    expect((error as StrataError).code, String(error)).toBe('CORRUPT');
    expect((error as StrataError).hint).toMatch(/backup/);
    expect(await rawDump(store, Date.now())).toBe(before);
    await store.close();
  });

  it('a backup that holds a journal record: restored, the journal kept and verify clean', async () => {
    const url = `sqlite:${join(root, `b${n++}.db`)}`;
    const backups = join(root, `b-backups-${n}`);
    const store = await openStore({ url, journal: { retention: '7d' }, sweepInterval: false });
    await store.kv('app').set('a', 1);
    const backup = await store.backup({ to: backups });
    await store.kv('app').set('b', 2);
    await damageState(bottomDriver(store.driver));
    await store.restore(backup.id, { dir: backups });
    expect(await store.kv('app').get('b')).toBeNull();
    await store.kv('app').set('c', 3);
    expect((await store.verify()).issues).toEqual([]);
    await store.close();
    // Reopened without the option: the store still keeps its journal.
    const again = await openStore({ url, sweepInterval: false });
    const state = await bottomDriver(again.driver).get('meta.journal-state', 'state', Date.now());
    expect(JSON.parse(state!.value)).toMatchObject({ format: 1, retentionMs: 7 * 86_400_000 });
    expect(await again.kv('app').get('c')).toBe(3);
    expect((await again.verify()).ok).toBe(true);
    await again.close();
  });
});
