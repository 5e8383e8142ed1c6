import { describe, expect, it } from 'vitest';
import { openStore, type Driver, type WriteOp } from '../../src/index.js';
import { memoryDriver } from '../../src/drivers/memory.js';

/**
 * A driver whose next write batch is preceded by `race()`: another writer getting in between
 * a bulk operation's reads and its write.
 */
function racing(base: Driver): { driver: Driver; before(fn: () => Promise<void>): void } {
  let pending: (() => Promise<void>) | undefined;
  const driver: Driver = Object.create(base) as Driver;
  driver.batch = async (ops: readonly WriteOp[], now, options) => {
    const race = pending;
    pending = undefined;
    if (race) await race();
    return base.batch(ops, now, options);
  };
  return { driver, before: (fn) => (pending = fn) };
}

describe('bulk collection operations under a concurrent writer', () => {
  it('updateWhere reruns on fresh data when a match changed between its read and its write', async () => {
    const base = memoryDriver();
    const { driver, before } = racing(base);
    const store = await openStore({ driver, sweepInterval: false });
    const c = store.collection('tasks');
    await c.insertMany([
      { id: 'a', status: 'todo', n: 1 },
      { id: 'b', status: 'todo', n: 1 },
    ]);
    const direct = (await openStore({ driver: base, sweepInterval: false })).collection('tasks');
    before(async () => {
      await direct.update('b', { n: 2 });
    });
    expect(await c.updateWhere({ status: 'todo' }, { status: 'done' })).toBe(2);
    // The concurrent change survived: the rerun patched the fresh document, not the stale one.
    expect(await c.get('b')).toEqual({ id: 'b', status: 'done', n: 2 });
    expect((await c.getEntry('b'))?.version).toBe(3);
    await store.close();
  });

  it('dedupe does not delete a document on stale information', async () => {
    const base = memoryDriver();
    const { driver, before } = racing(base);
    const clock = { now: 1000 };
    const store = await openStore({ driver, sweepInterval: false, clock: () => clock.now });
    const c = store.collection('deps', { key: 'k' });
    await c.insert({ k: 'old', g: 1 });
    clock.now += 10;
    await c.insert({ k: 'new', g: 1 });
    before(async () => {
      // The loser is rewritten before the delete lands: it is now the newest of its group.
      clock.now += 10;
      await base.batch([{ type: 'put', space: 'c.deps', key: 'old', value: '{"k":"old","g":1}', expiresAt: null }], clock.now);
    });
    expect(await c.dedupe({ by: 'g' })).toBe(1);
    expect(await c.keys()).toEqual(['old']);
    await store.close();
  });

  it('deleteWhere leaves a match that a writer changed, so it no longer matches, before the delete', async () => {
    const base = memoryDriver();
    const { driver, before } = racing(base);
    const store = await openStore({ driver, sweepInterval: false });
    const c = store.collection('sessions');
    await c.insertMany([
      { id: 'a', lastSeen: 10 },
      { id: 'b', lastSeen: 10 },
      { id: 'c', lastSeen: 99 },
    ]);
    const direct = (await openStore({ driver: base, sweepInterval: false })).collection('sessions');
    before(async () => {
      await direct.update('b', { lastSeen: 100 }); // touched: no longer older than 50
    });
    expect(await c.deleteWhere({ lastSeen: { $lt: 50 } })).toBe(1);
    expect(await c.keys()).toEqual(['b', 'c']);
    await store.close();
  });

  it('deleteWhere and dedupe leave a document deleted and written anew meanwhile (same version, other content)', async () => {
    const base = memoryDriver();
    const { driver, before } = racing(base);
    const store = await openStore({ driver, sweepInterval: false });
    const c = store.collection('sessions');
    await c.insertMany([
      { id: 'a', lastSeen: 10, g: 1 },
      { id: 'b', lastSeen: 20, g: 1 },
    ]);
    const direct = (await openStore({ driver: base, sweepInterval: false })).collection('sessions');
    const recreate = async (): Promise<void> => {
      await direct.delete('a');
      await direct.insert({ id: 'a', lastSeen: 100, g: 2 });
    };
    before(recreate);
    expect(await c.deleteWhere({ lastSeen: { $lt: 50 } })).toBe(1);
    expect(await c.get('a')).toEqual({ id: 'a', lastSeen: 100, g: 2 });
    expect((await c.getEntry('a'))?.version).toBe(1);

    // dedupe by g, keeping the greatest lastSeen, judges 'a' (g 1, lastSeen 10) a loser; it is
    // rewritten meanwhile into another group, so nothing is deleted.
    await c.insert({ id: 'b', lastSeen: 20, g: 1 });
    await direct.delete('a');
    await direct.insert({ id: 'a', lastSeen: 10, g: 1 });
    before(async () => {
      await direct.delete('a');
      await direct.insert({ id: 'a', lastSeen: 10, g: 3 });
    });
    expect(await c.dedupe({ by: 'g', keep: { newest: 'lastSeen' } })).toBe(0);
    expect(await c.keys()).toEqual(['a', 'b']);
    await store.close();
  });
});
