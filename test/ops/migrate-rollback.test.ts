// A run is undone as a whole from the restore point (a verified backup) taken before it:
// after a migration that throws with earlier migrations of the run committed, and after a
// migrator SIGKILLed in its second migration. Byte-equal on every record (versions and times
// included) and on the SQLite user tables.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, LineChild, sleep, tempDir } from '../reliability/helpers.js';
import type { Store, StrataError } from '../../src/index.js';
import { BACKENDS, dump, open, urlFor, type Backend } from './migrate-helpers.js';

async function seeded(backend: Backend, dir: string): Promise<Store> {
  const store = await open(urlFor(backend, dir));
  await store.kv('app').set('theme', 'dark');
  await store.kv('app').set('theme', 'light'); // version 2
  await store.collection('tasks').insertMany([{ id: 't1' }, { id: 't2' }]);
  await store.migrate({
    migrations: [
      {
        name: '000_base',
        up:
          backend === 'sqlite'
            ? 'CREATE TABLE loop (i INTEGER); INSERT INTO loop VALUES (-1);'
            : async (m) => void (await m.kv('app').set('base', 1)),
      },
    ],
  });
  return store;
}

describe.each(BACKENDS)('a failed run is undone as a whole on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  beforeEach(async () => {
    dir = await tempDir('migrate-rollback');
  });
  afterEach(async () => dir.dispose());

  it('a migration that throws half way, after an earlier one of the run committed', async () => {
    const store = await seeded(backend, dir.path);
    try {
      const before = await dump(store, backend, dir.path);
      let error: StrataError | undefined;
      try {
        await store.migrate({
          migrations: [
            {
              name: '001_ok',
              up: async (m) => {
                await m.kv('app').set('theme', 'blue');
                await m.collection('tasks').insert({ id: 't3' });
                if (backend === 'sqlite') void m.sql`INSERT INTO loop VALUES (${1})`;
              },
            },
            {
              name: '002_throws',
              up: async (m) => {
                for (let i = 0; i < 100; i++) await m.kv('bulk').set(`k${i}`, i);
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
    } finally {
      await store.close();
    }
  });

  if (backend !== 'memory') {
    it('a migrator killed in its second migration: the next run restores, then runs again', async () => {
      let store = await seeded(backend, dir.path);
      const before = await dump(store, backend, dir.path);
      await store.close();
      const child = new LineChild(fixture('migrate-worker.mjs'), [urlFor(backend, dir.path), 'loop', 'two']);
      await child.waitFor('W', 30_000);
      await sleep(20);
      child.kill();
      await child.exit(10_000);
      store = await open(urlFor(backend, dir.path));
      try {
        const status = await store.migrations.status();
        expect(status.find((s) => s.name === '005_first')?.state).toBe('applied'); // committed before the kill
        const cleaned = await store.migrate({ migrations: [] });
        expect(cleaned.recovered?.action).toBe('restored');
        expect(await dump(store, backend, dir.path)).toBe(before);
        expect((await store.verify()).ok).toBe(true);
      } finally {
        await store.close();
      }
    });
  }
});
