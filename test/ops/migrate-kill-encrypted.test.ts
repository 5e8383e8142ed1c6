// SIGKILL in the middle of a data migration over ENCRYPTED records (an encrypted kv
// namespace, a collection with encrypted fields, one of them a lookup field), in a real
// child process, then reopened with the same keyring:
// - a run killed inside its second (function) migration: the next migrate restores the run's
//   backup, so the store is byte for byte as before the run (the records as the driver stack
//   reads them and, on sqlite, the rows and ciphertext in the file); the run then applies;
// - a batched migration killed mid-walk: the next migrate resumes it, and the data is exactly
//   what an uninterrupted run on the same seed gives (each user walked once).
// Either way every record still decrypts, lookups answer, verify() is clean, no secret is in
// the clear at rest, and a process that declares nothing still decrypts (a namespace the
// killed run wrote first included: the restore takes its remembered encryption away).
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, LineChild, sleep, strata, tempDir } from '../reliability/helpers.js';
import type { Store } from '../../src/index.js';
import type { Migration } from '../../src/ops/migrate-types.js';
import { dump, urlFor } from './migrate-helpers.js';
import { walkUsers } from '../fixtures/walk-migrations.mjs';

const WORKER = fixture('migrate-encrypted-worker.mjs');
const KEYS = `k1:${randomBytes(32).toString('base64')}`;
const USERS = 100;
const id = (i: number): string => `u${String(i).padStart(3, '0')}`;

interface User {
  id: string;
  apiKey: string;
  email: string;
  name: string;
  n: number;
}

async function openEncrypted(url: string): Promise<Store> {
  const store = await strata.openStore({ url, sweepInterval: false, encryption: { keys: KEYS } });
  store.kv('auth', { encrypt: true });
  store.kv('vault', { encrypt: true });
  store.collection('users', { key: 'id', encrypt: ['apiKey', { path: 'email', lookup: true }] });
  return store;
}

async function seed(url: string): Promise<void> {
  const store = await openEncrypted(url);
  try {
    await store.kv('auth').set('token', 'SECRET-TOKEN');
    await store
      .collection('users')
      .insertMany(
        Array.from({ length: USERS }, (_, i) => ({ id: id(i), apiKey: `key-${i}`, email: `${id(i)}@x.io`, name: `N${i}`, n: 0 })),
      );
  } finally {
    await store.close();
  }
}

/**
 * The decrypted contents (what the app reads), each record read on its own: every one must
 * decrypt. Not kv('vault'): reading a namespace declared encrypted remembers that in the store,
 * and the test needs it first remembered by the killed run.
 */
async function contents(store: Store): Promise<unknown> {
  const users = store.collection('users');
  const docs: unknown[] = [];
  for (let i = 0; i < USERS; i++) docs.push(await users.get(id(i)));
  const auth: Record<string, unknown> = {};
  for (const key of await store.kv('auth').list()) auth[key] = await store.kv('auth').get(key);
  return { docs, auth };
}

/** Every user's lookup field answers equality, and the store verifies. */
async function expectSound(store: Store): Promise<void> {
  const users = store.collection('users');
  for (let i = 0; i < USERS; i += 7) {
    const doc = (await users.get(id(i))) as unknown as User;
    expect(await users.query({ email: doc.email }), doc.email).toEqual([doc]);
  }
  const report = await store.verify();
  expect(report.ok, JSON.stringify(report)).toBe(true);
}

/** No file of the store (backups aside) holds a secret in the clear. */
async function expectCiphertextAtRest(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || entry.parentPath.includes('backups')) continue;
    const bytes = await readFile(join(entry.parentPath, entry.name));
    for (const mark of ['SECRET-', 'key-1', '@new.io', '@x.io']) {
      expect(bytes.includes(mark), `${mark} in ${join(entry.parentPath, entry.name)}`).toBe(false);
    }
  }
}

// What the child's migrations do, given again by the process that reruns them.
const secrets: Migration = {
  name: '001_secrets',
  up: async (m) => {
    await m.kv('auth').set('root', 'SECRET-ROOT');
    await m.kv('vault').set('root', 'SECRET-VAULT');
    await m.collection('users').update('u000', { apiKey: 'SECRET-FIRST', email: 'first@x.io' });
  },
};
const rekey: Migration = {
  name: '002_rekey',
  up: async (m) => {
    for (const u of await m.collection<User>('users').query({})) {
      await m.collection('users').update(u.id, { apiKey: `SECRET-${u.id}`, email: `${u.id}@new.io` });
      await m.kv('auth').set(`token:${u.id}`, `SECRET-T-${u.id}`);
    }
  },
};
// The child's own migration (one source): a run resumes only with the code that made its checkpoint.
const walk = walkUsers(() => {});

describe.each(['sqlite', 'file'] as const)('a migration over encrypted records SIGKILLed on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  let clean: { path: string; dispose(): Promise<void> };
  const children: LineChild[] = [];
  beforeEach(async () => {
    dir = await tempDir('migrate-kill-enc');
    clean = await tempDir('migrate-kill-enc-clean');
    await seed(urlFor(backend, dir.path));
    await seed(urlFor(backend, clean.path));
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill();
    await dir.dispose();
    await clean.dispose();
  });

  /** The contents after an uninterrupted run of `migrations` on the same seed. */
  async function cleanRun(migrations: Migration[]): Promise<unknown> {
    const store = await openEncrypted(urlFor(backend, clean.path));
    try {
      expect((await store.migrate({ migrations })).applied).toEqual(migrations.map((m) => m.name));
      return await contents(store);
    } finally {
      await store.close();
    }
  }

  function start(task: string): LineChild {
    const child = new LineChild(WORKER, [urlFor(backend, dir.path), task], { env: { ...process.env, KEYS } });
    children.push(child);
    return child;
  }

  it(
    'killed inside its second migration: restored byte for byte, then the rerun equals a clean run',
    { timeout: 120_000 },
    async () => {
      const url = urlFor(backend, dir.path);
      let store = await openEncrypted(url);
      const before = await dump(store, backend, dir.path);
      const beforeContents = await contents(store);
      await store.close();

      const child = start('whole');
      await child.waitFor('W', 60_000, 'half way through 002_rekey');
      await sleep(50);
      child.kill();
      expect((await child.exit(10_000)).signal, child.stderr).toBe('SIGKILL');
      expect(child.lines).not.toContain('finished');

      store = await openEncrypted(url);
      try {
        // The app reads before migrating (what the dead run's committed first migration wrote,
        // undone just below): this process then holds the namespace as declared and remembered.
        expect(await store.kv('vault').get('root')).toBe('SECRET-VAULT');
        const cleaned = await store.migrate({ migrations: [] });
        expect(cleaned.recovered?.action).toBe('restored');
        expect(await dump(store, backend, dir.path)).toBe(before);
        expect(await contents(store)).toEqual(beforeContents);
        expect((await store.verify()).ok).toBe(true);

        const rerun = await store.migrate({ migrations: [secrets, rekey] });
        expect(rerun.applied).toEqual(['001_secrets', '002_rekey']);
        expect(await contents(store)).toEqual(await cleanRun([secrets, rekey]));
        expect(await store.kv('auth').get('token:u042')).toBe('SECRET-T-u042');
        expect(await store.kv('vault').get('root')).toBe('SECRET-VAULT');
        await expectSound(store);
      } finally {
        await store.close();
      }
      // Another process, with the keyring and no declarations: it learns from the store what is encrypted.
      const bare = await strata.openStore({ url, sweepInterval: false, encryption: { keys: KEYS } });
      try {
        expect(await bare.kv('vault').get('root')).toBe('SECRET-VAULT');
        expect(await bare.kv('auth').get('root')).toBe('SECRET-ROOT');
        expect(await bare.collection('users').get('u007')).toMatchObject({ apiKey: 'SECRET-u007', email: 'u007@new.io' });
      } finally {
        await bare.close();
      }
      await expectCiphertextAtRest(dir.path);
    },
  );

  it(
    'a batched migration killed mid-walk resumes: the data equals a clean run, each user walked once',
    { timeout: 120_000 },
    async () => {
      const url = urlFor(backend, dir.path);
      const child = start('batches');
      await child.waitFor((l) => l === 'B 40', 60_000, 'four batches');
      child.kill();
      expect((await child.exit(10_000)).signal, child.stderr).toBe('SIGKILL');
      expect(child.lines).not.toContain('finished');

      const store = await openEncrypted(url);
      try {
        const result = await store.migrate({ migrations: [walk] });
        expect(result.recovered?.action).toBe('resumed');
        expect(result.applied).toEqual(['030_walk']);
        const after = (await contents(store)) as { docs: User[] };
        expect(after).toEqual(await cleanRun([walk]));
        expect(after.docs.filter((d) => d.n !== 1 || !/^key-\d+!$/.test(d.apiKey))).toEqual([]);
        await expectSound(store);
        expect((await store.migrations.status()).map((s) => [s.name, s.state])).toEqual([['030_walk', 'applied']]);
      } finally {
        await store.close();
      }
      await expectCiphertextAtRest(dir.path);
    },
  );
});
