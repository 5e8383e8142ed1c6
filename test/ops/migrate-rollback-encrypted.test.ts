// A failed run on an ENCRYPTED store is undone byte for byte too, migrations that create new
// collections, namespaces (and, on sqlite, tables) included: the records as the driver stack
// reads them (versions and times included), the rows and ciphertext in the SQLite file, and
// names(). (The file backend's append-only journal keeps the undone writes as history until
// it compacts; what it reads back is the state before the run.)
// Afterwards the same migration applies cleanly and what it wrote to encrypted fields is
// ciphertext at rest.
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { strata, tempDir } from '../reliability/helpers.js';
import type { Store, StrataError } from '../../src/index.js';
import type { Migration } from '../../src/ops/migrate-types.js';
import { BACKENDS, dump, urlFor, type Backend } from './migrate-helpers.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
const SECRET = 'SECRET-MARK-7f3a';

async function openEncrypted(backend: Backend, dir: string): Promise<Store> {
  const store = await strata.openStore({ url: urlFor(backend, dir), sweepInterval: false, encryption: { keys: KEYS } });
  store.kv('auth', { encrypt: true });
  store.collection('users', { key: 'id', encrypt: ['apiKey', { path: 'email', lookup: true }] });
  return store;
}

const creating = (backend: Backend): Migration => ({
  name: '001_create',
  up: async (m) => {
    await m.collection('audit').insert({ id: 'a1', what: 'created' });
    await m.kv('flags').set('new', true);
    await m.kv('auth').set('token2', SECRET);
    await m.collection('users').update('u1', { apiKey: SECRET, email: 'new@x.io' });
    if (backend === 'sqlite') void m.sql`CREATE TABLE extra (a TEXT)`;
  },
});

describe.each(BACKENDS)('a failed run on an encrypted store on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  beforeEach(async () => {
    dir = await tempDir('migrate-rollback-enc');
  });
  afterEach(async () => dir.dispose());

  it('is undone byte for byte, new collections and namespaces included', async () => {
    const store = await openEncrypted(backend, dir.path);
    try {
      await store.kv('auth', { encrypt: true }).set('token', 'tok-1');
      await store.collection('users').insert({ id: 'u1', apiKey: 'key-1', email: 'a@x.io', name: 'Ana' });
      const before = await dump(store, backend, dir.path);
      const names = await store.names();
      let error: StrataError | undefined;
      try {
        await store.migrate({
          migrations: [
            creating(backend),
            {
              name: '002_throws',
              up: async (m) => {
                await m.collection('more').insert({ id: 'x' });
                throw new Error('half way');
              },
            },
          ],
        });
      } catch (e) {
        error = e as StrataError;
      }
      expect(error?.code).toBe('MIGRATION_FAILED');
      expect(error?.details).toMatchObject({ migration: '002_throws', restored: true });
      expect(await dump(store, backend, dir.path)).toBe(before);
      expect(await store.names()).toEqual(names);
      expect(await store.collection('audit').get('a1')).toBeNull();

      // The same migration then applies, its encrypted writes readable and not in the clear at rest.
      expect((await store.migrate({ migrations: [creating(backend)] })).applied).toEqual(['001_create']);
      expect(await store.kv('auth').get('token2')).toBe(SECRET);
      expect(await store.collection('users').get('u1')).toMatchObject({ apiKey: SECRET, email: 'new@x.io', name: 'Ana' });
      expect(await store.collection('users').query({ email: 'new@x.io' })).toHaveLength(1);
      expect((await store.verify()).ok).toBe(true);
    } finally {
      await store.close();
    }
    if (backend !== 'memory') {
      for (const entry of await readdir(dir.path, { withFileTypes: true, recursive: true })) {
        if (!entry.isFile() || entry.parentPath.includes('backups')) continue;
        const bytes = await readFile(join(entry.parentPath, entry.name));
        expect(bytes.includes(SECRET), join(entry.parentPath, entry.name)).toBe(false);
      }
    }
  });

  // A namespace and a collection declared encrypted in this process but first written by the
  // failed run: the restore takes their remembered encryption out of the store again, so the
  // rerun must remember it again, or other processes and the CLI (which learn what is
  // encrypted from the store) would read its ciphertext as the values.
  // A memory store has no other process to read it: the case is only defined for stores on disk.
  if (backend !== 'memory')
    it('spaces first written by the failed run are still known as encrypted after the rerun', async () => {
      const url = urlFor(backend, dir.path);
      const store = await openEncrypted(backend, dir.path);
      store.kv('vault', { encrypt: true });
      store.collection('people', { key: 'id', encrypt: ['ssn'] });
      const first: Migration = {
        name: '001_vault',
        up: async (m) => {
          await m.kv('vault').set('s', SECRET);
          await m.collection('people').insert({ id: 'p', ssn: SECRET });
        },
      };
      const throws: Migration = {
        name: '002_throws',
        up: async () => {
          throw new Error('half way');
        },
      };
      try {
        await expect(store.migrate({ migrations: [first, throws] })).rejects.toMatchObject({ code: 'MIGRATION_FAILED' });
        expect((await store.migrate({ migrations: [first] })).applied).toEqual(['001_vault']);
        expect(await store.kv('vault').get('s')).toBe(SECRET);
      } finally {
        await store.close();
      }
      // Another process: the keyring, and no declarations of its own.
      const bare = await strata.openStore({ url, sweepInterval: false, encryption: { keys: KEYS } });
      try {
        expect(await bare.kv('vault').get('s')).toBe(SECRET);
        expect(await bare.collection('people').get('p')).toEqual({ id: 'p', ssn: SECRET });
        expect((await bare.verify()).ok).toBe(true);
      } finally {
        await bare.close();
      }
    });
});
