// A migration's handle `m` (and the kv / collection handles it gave out) kept past the end of
// its step: using it must fail loudly. m.sql used to open a SQLite transaction on the store's
// connection that nothing committed, so the app's next writes joined it and were lost at
// close although acknowledged; kv writes went to a buffer nobody would commit.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../reliability/helpers.js';
import type { StrataError } from '../../src/index.js';
import type { MigrationContext } from '../../src/ops/migrate-types.js';
import { BACKENDS, open, urlFor } from './migrate-helpers.js';

async function rejection(promise: Promise<unknown> | unknown): Promise<StrataError> {
  try {
    await promise;
  } catch (error) {
    return error as StrataError;
  }
  throw new Error('expected a rejection');
}

describe.each(BACKENDS)('a migration handle used after its step on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  beforeEach(async () => {
    dir = await tempDir('migrate-handle');
  });
  afterEach(async () => dir.dispose());

  it('is BAD_INPUT, and the writes of the app after the run are kept', async () => {
    let store = await open(urlFor(backend, dir.path));
    let saved: MigrationContext | undefined;
    let kv: ReturnType<MigrationContext['kv']> | undefined;
    await store.migrate({
      migrations: [
        {
          name: '001',
          up: async (m) => {
            saved = m;
            kv = m.kv('app');
            await kv.set('inside', 1);
          },
        },
      ],
    });
    const late = [
      await rejection(Promise.resolve().then(() => saved!.sql`CREATE TABLE late (a INTEGER)`)),
      await rejection(kv!.set('late', 1)),
      await rejection(saved!.kv('app').set('late', 1)),
      await rejection(saved!.collection('tasks').insert({ id: 'late' })),
    ];
    for (const error of late) expect(error.code, error.message).toBe('BAD_INPUT');
    await store.kv('app').set('after', 2);
    if (backend !== 'memory') {
      await store.close();
      store = await open(urlFor(backend, dir.path));
    }
    try {
      expect(await store.kv('app').get('inside')).toBe(1);
      expect(await store.kv('app').get('after')).toBe(2);
      expect(await store.kv('app').get('late')).toBeNull();
      expect(await store.collection('tasks').get('late')).toBeNull();
    } finally {
      await store.close();
    }
  });
});
