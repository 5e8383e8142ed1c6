// A key rotation reads a page of records, then writes each re-encrypted, conditional on the
// record it read. A record another process deleted and wrote anew in between is at version 1
// again, like the one read: the rotation must re-read it, never write the old value back.
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Driver } from '../../src/drivers/driver.js';
import { fileDriver } from '../../src/drivers/file/index.js';
import { sqliteDriver } from '../../src/drivers/sqlite.js';
import { openStore } from '../../src/index.js';
import { tempDir } from './helpers.js';

const K1 = `k1:${randomBytes(32).toString('base64')}`;
const K2 = `k2:${randomBytes(32).toString('base64')}`;

let dir: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('rotate-recreated');
});
afterEach(async () => {
  await dir.dispose();
});

/** `inner`, with `meanwhile` run once after the first scan of `space` returned. */
function pausingScan(inner: Driver, space: string, meanwhile: () => Promise<void>): Driver {
  let pending: (() => Promise<void>) | null = meanwhile;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'scan') {
        return async (...args: Parameters<Driver['scan']>) => {
          const records = await target.scan(...args);
          const act = args[0] === space ? pending : null;
          if (act !== null) {
            pending = null;
            await act();
          }
          return records;
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe.each(['sqlite', 'file'] as const)('rotateKeys and a record deleted and written anew meanwhile, on %s', (kind) => {
  it('keeps the new value', async () => {
    const driverAt = (): Driver =>
      kind === 'sqlite' ? sqliteDriver({ path: join(dir.path, 's.db') }) : fileDriver({ dir: join(dir.path, 'f') });
    const seed = await openStore({ driver: driverAt(), encryption: { keys: K1 }, sweepInterval: false });
    const vault = seed.kv('vault', { encrypt: true });
    await vault.setMany([
      ['a', { secret: 'old-a' }],
      ['b', { secret: 'old-b' }],
    ]);
    await seed.close();

    const other = await openStore({ driver: driverAt(), encryption: { keys: `${K2},${K1}` }, sweepInterval: false });
    const rotating = await openStore({
      driver: pausingScan(driverAt(), 'kv.vault', async () => {
        await other.kv('vault').delete('a');
        await other.kv('vault').set('a', { secret: 'new-a' });
      }),
      encryption: { keys: `${K2},${K1}` },
      sweepInterval: false,
    });
    try {
      const report = await rotating.rotateKeys();
      expect(report.failed).toEqual([]);
      expect(await other.kv('vault').getEntry('a')).toMatchObject({ value: { secret: 'new-a' }, version: 1 });
      expect(await rotating.kv('vault').get('a')).toEqual({ secret: 'new-a' });
      expect(await rotating.kv('vault').get('b')).toEqual({ secret: 'old-b' });
    } finally {
      await rotating.close();
      await other.close();
    }
    // Everything now opens under k2 alone.
    const after = await openStore({ driver: driverAt(), encryption: { keys: K2 }, sweepInterval: false });
    try {
      expect(await after.kv('vault').getMany(['a', 'b'])).toEqual([{ secret: 'new-a' }, { secret: 'old-b' }]);
    } finally {
      await after.close();
    }
  });
});
