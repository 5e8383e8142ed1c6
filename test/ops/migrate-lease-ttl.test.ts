// leaseTtl has a floor (500 ms): the lease is renewed every third of it, and a shorter one
// expires under a holder that never stalled, so a second migrator would take it over instead
// of waiting and the first would stop with a LOCKED blaming a stall. Below the floor is
// BAD_INPUT with a hint, before the lease is claimed or anything is written.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../reliability/helpers.js';
import { dump, open } from './migrate-helpers.js';
import type { Migration, Store, StrataError } from '../../src/index.js';

describe('leaseTtl below what the renewal can keep', () => {
  let dir: { path: string; dispose(): Promise<void> };
  let store: Store;
  beforeEach(async () => {
    dir = await tempDir('migrate-lease-ttl');
    store = await open(`sqlite:${join(dir.path, 'store.db')}`);
  });
  afterEach(async () => {
    await store.close();
    await dir.dispose();
  });

  it('is BAD_INPUT with a hint for migrate and down, writing nothing; 500 ms is accepted', async () => {
    const source = { migrations: [{ name: '001', up: async (m) => void (await m.kv('app').set('x', 1)) }] satisfies Migration[] };
    const before = await dump(store, 'sqlite', dir.path);
    for (const leaseTtl of ['5ms', 49, '499ms'] as const) {
      for (const call of [
        () => store.migrate(source, { leaseTtl }),
        () => store.migrations.down({ to: null, source, leaseTtl }),
      ]) {
        const error = (await call().catch((e: unknown) => e)) as StrataError;
        expect([error.code, error.details?.option, error.hint]).toEqual([
          'BAD_INPUT',
          'leaseTtl',
          expect.stringContaining("'500ms'"),
        ]);
      }
    }
    expect(await store.driver.get('meta.migrations-lock', 'lease', Date.now())).toBeNull();
    expect(await dump(store, 'sqlite', dir.path)).toBe(before);
    expect((await store.migrate(source, { leaseTtl: '500ms' })).applied).toEqual(['001']);
  });
});
