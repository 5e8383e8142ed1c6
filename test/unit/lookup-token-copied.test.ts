// A lookup token is not bound to the ciphertext beside it: someone who can write the files
// (without the key) can copy one document's token into another. A lookup opens every document
// it matched and refuses one whose decrypted value is not the one looked up (INTEGRITY naming
// its key): it never returns, changes or deletes such a document (docs/encryption.md).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Store } from '../../src/index.js';
import { rawDriver } from '../../src/testing/encryption-suite.js';
import { failure, KEY1, openAt, tempDir } from './encrypted-store-fixtures.js';

let t: ReturnType<typeof tempDir>;
let store: Store;
beforeEach(async () => {
  t = tempDir();
  store = await openAt(`sqlite:${join(t.dir, 'db.sqlite')}`, { keys: `k1:${KEY1}` });
});
afterEach(async () => {
  await store.close().catch(() => {});
  t.cleanup();
});

/** Two users, then the admin's email token copied into mallory's document. */
async function swapped() {
  const users = store.collection('users', { encrypt: [{ path: 'email', lookup: true }] });
  await users.insert({ id: 'admin', email: 'admin@x.io', role: 'admin' } as never);
  await users.insert({ id: 'mallory', email: 'm@x.io', role: 'user' } as never);
  await users.insert({ id: 'zed', email: 'z@x.io', role: 'user' } as never);
  const raw = rawDriver(store);
  const admin = JSON.parse((await raw.get('c.users', 'admin', Date.now()))!.value);
  const mallory = JSON.parse((await raw.get('c.users', 'mallory', Date.now()))!.value);
  mallory.email.$eq = admin.email.$eq;
  await raw.batch(
    [{ type: 'put', space: 'c.users', key: 'mallory', value: JSON.stringify(mallory), expiresAt: null }],
    Date.now(),
    {
      results: false,
    },
  );
  return users;
}

describe('a lookup token copied into another document', () => {
  it('query, $in, page and iterate refuse the document as INTEGRITY naming it, not the value', async () => {
    const users = await swapped();
    const error = await failure(users.query({ email: 'admin@x.io' } as never), 'INTEGRITY');
    expect(error.message).toMatch(/"mallory"/);
    expect(error.message).not.toMatch(/admin@x\.io|m@x\.io/);
    expect(error.details).toMatchObject({ space: 'c.users', key: 'mallory', field: 'email' });
    await failure(users.query({ email: { $in: ['nobody@x.io', 'admin@x.io'] } } as never), 'INTEGRITY');
    await failure(users.page({ email: 'admin@x.io' } as never), 'INTEGRITY');
    await failure(
      (async () => {
        for await (const _ of users.iterate({ email: 'admin@x.io' } as never));
      })(),
      'INTEGRITY',
    );
  });

  it('deleteWhere and updateWhere refuse it and change nothing', async () => {
    const users = await swapped();
    await failure(users.deleteWhere({ email: 'admin@x.io' } as never), 'INTEGRITY');
    await failure(users.updateWhere({ email: 'admin@x.io' } as never, { role: 'gone' } as never), 'INTEGRITY');
    expect((await users.query({ role: 'admin' } as never)).map((u) => (u as { id: string }).id)).toEqual(['admin']);
    expect(await users.get('mallory')).toEqual({ id: 'mallory', email: 'm@x.io', role: 'user' });
  });

  it('lookups that do not meet the copied token answer as before', async () => {
    const users = await swapped();
    expect(await users.query({ email: 'z@x.io' } as never)).toEqual([{ id: 'zed', email: 'z@x.io', role: 'user' }]);
    expect(await users.query({ email: 'm@x.io' } as never)).toEqual([]); // its own token was overwritten
    expect(await users.get('mallory')).toEqual({ id: 'mallory', email: 'm@x.io', role: 'user' });
  });
});
