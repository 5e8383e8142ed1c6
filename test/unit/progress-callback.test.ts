// A throwing onProgress is the caller's mistake: BAD_INPUT naming the operation, with the
// thrown error as `cause`, on every entry point that takes one (it was UNAVAILABLE "the
// backend reported an unexpected error").
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError, type Store } from '../../src/index.js';
import { expectCode } from '../conformance/index.js';

const KEYS = `k1:${Buffer.alloc(32, 3).toString('base64')}`;
let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-progress-'));
  store = await openStore({ url: `sqlite:${join(dir, 'app.db')}`, encryption: { keys: KEYS }, sweepInterval: false });
  await store.kv<number>('n').setMany(Array.from({ length: 50 }, (_, i) => [`k${i}`, i] as [string, number]));
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const boom = new Error('the callback failed');
const thrower = () => {
  throw boom;
};

describe('a throwing onProgress', () => {
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['store.verify', () => store.verify({ onProgress: thrower })],
    ['store.backup', () => store.backup({ to: join(dir, 'b'), onProgress: thrower })],
    ['store.rotateKeys', () => store.rotateKeys({ onProgress: thrower })],
    ['store.export', () => store.export(join(dir, 'e.strata'), { onProgress: thrower })],
    [
      'store.backups.verify',
      async () => {
        const b = await store.backup({ to: join(dir, 'b2') });
        return store.backups.verify(b.id, { dir: join(dir, 'b2'), onProgress: thrower });
      },
    ],
    [
      'store.restore',
      async () => {
        const b = await store.backup({ to: join(dir, 'b3') });
        return store.restore(b.id, { dir: join(dir, 'b3'), onProgress: thrower });
      },
    ],
    [
      'store.migrate',
      () =>
        store.migrate(
          { migrations: [{ name: '001-x', up: async (m) => void (await m.kv('n').set('m', 1)) }] },
          { onProgress: thrower },
        ),
    ],
  ];
  it.each(cases)('%s: BAD_INPUT naming the operation, the thrown error as cause', async (op, run) => {
    const error = await run().then(
      () => null,
      (e: unknown) => e,
    );
    // An operation may finish without reporting progress on a store this small: then nothing threw.
    if (error === null) return;
    expect(error).toBeInstanceOf(StrataError);
    expect((error as StrataError).code).toBe('BAD_INPUT');
    expect((error as StrataError).message).toContain(op);
    expect((error as StrataError).cause).toBe(boom);
  });

  it('not a function: BAD_INPUT at once', async () => {
    await expectCode(store.verify({ onProgress: 'x' as never }), 'BAD_INPUT');
    await expectCode(store.backup({ to: join(dir, 'b'), onProgress: 1 as never }), 'BAD_INPUT');
  });

  it('verify and backup report progress on this store, so their refusals above are real', async () => {
    let calls = 0;
    await store.verify({ onProgress: () => void calls++ });
    await store.backup({ to: join(dir, 'b4'), onProgress: () => void calls++ });
    expect(calls).toBeGreaterThanOrEqual(2);
    // After the refused runs the store is whole.
    expect((await store.verify()).ok).toBe(true);
  });
});
