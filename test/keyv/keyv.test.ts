// Runs keyv's own storage-adapter suite (@keyv/test-suite) against `stratadb/keyv` on every
// driver, plus what the adapter adds: Strata-side expiry and namespaces kept apart.
import * as test from 'vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Keyv from 'keyv';
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite';
import { openStore, type Store } from '../../src/index.js';
import { KeyvStrata } from '../../src/keyv.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-keyv-'));
const stores: Record<string, Store> = {
  memory: await openStore('memory:'),
  sqlite: await openStore(`sqlite:${join(dir, 'keyv.db')}`),
  file: await openStore(`file:${join(dir, 'keyv-files')}`),
};

afterAll(async () => {
  for (const store of Object.values(stores)) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

for (const [driver, store] of Object.entries(stores)) {
  describe(`@keyv/test-suite on ${driver}`, () => {
    // A new adapter per keyv instance (keyv sets its namespace on the adapter), one store.
    const adapter = (): KeyvStrata => new KeyvStrata(store);
    keyvTestSuite(test, Keyv, adapter);
    keyvIteratorTests(test, Keyv, adapter);
  });
}

describe('KeyvStrata', () => {
  it('stores keyv entries in one Strata namespace, with a Strata ttl', async () => {
    let now = Date.UTC(2026, 0, 1);
    const store = await openStore({ url: 'memory:', clock: () => now, sweepInterval: false });
    try {
      const keyv = new Keyv({ store: new KeyvStrata(store, { name: 'cache' }), namespace: 'sessions' });
      await keyv.set('a', { user: 1 }, 1000);
      expect(await store.kv('cache').list()).toEqual(['sessions:a']);
      expect((await store.kv('cache').getEntry('sessions:a'))?.expiresAt?.getTime()).toBe(now + 1000);
      now += 1001;
      // Gone on the Strata side even though keyv never read it again: counts stay honest.
      expect(await store.kv('cache').count()).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('opens and closes its own store from a URL', async () => {
    const url = `sqlite:${join(dir, 'own.db')}`;
    const adapter = new KeyvStrata(url);
    const keyv = new Keyv({ store: adapter });
    await keyv.set('k', 'v');
    await keyv.disconnect();
    const store = await openStore(url);
    expect(await store.kv('keyv').get('keyv:k')).toBeTypeOf('string');
    await store.close();
  });

  it('setMany writes every entry, each with its own ttl', async () => {
    const store = stores.sqlite!;
    const keyv = new Keyv({ store: new KeyvStrata(store, { name: 'many' }) });
    await keyv.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2, ttl: 60_000 },
    ]);
    expect(await keyv.get(['a', 'b'])).toEqual([1, 2]);
    expect((await store.kv('many').getEntry('keyv:a'))?.expiresAt).toBeNull();
    expect((await store.kv('many').getEntry('keyv:b'))?.expiresAt).toBeInstanceOf(Date);
  });

  it('refuses unknown options', () => {
    expect(() => new KeyvStrata(stores.memory!, { nmae: 'x' } as never)).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }) as Error,
    );
  });

  it('clears only its keyv namespace', async () => {
    const a = new Keyv({ store: new KeyvStrata(stores.memory!, { name: 'shared' }), namespace: 'a' });
    const b = new Keyv({ store: new KeyvStrata(stores.memory!, { name: 'shared' }), namespace: 'b' });
    await a.set('x', 1);
    await b.set('x', 2);
    await a.clear();
    expect(await a.get('x')).toBeUndefined();
    expect(await b.get('x')).toBe(2);
  });
});
