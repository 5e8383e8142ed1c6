// A SyncStream saves its items in the collection it was given, in the store it was created
// for. A handle of another store (or of a store since closed, even one of the same file) used
// to be read as a bare name: the items went to this store's collection of that name, under
// this store's declaration of it, not the one the caller passed. Such a handle, and anything
// not made by this store's store.collection(), is now BAD_INPUT at construction, before
// anything is written: both stores stay exactly as they were.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError, type Store } from '../../src/index.js';
import { SyncStream } from '../../src/kits/sync/index.js';

interface Item {
  id: string;
  at: number;
}

const DRIVERS = ['sqlite', 'file', 'memory'] as const;
type DriverName = (typeof DRIVERS)[number];
const urlOf = (driver: DriverName, dir: string, name: string) =>
  driver === 'sqlite' ? `sqlite:${join(dir, `${name}.db`)}` : driver === 'file' ? `file:${join(dir, name)}` : 'memory:';

/** Every record of every space, as the driver stack reads it: what "left unchanged" compares. */
async function dumpOf(store: Store): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const space of (await store.driver.spaces()).sort()) {
    const records = await store.driver.scan(space, {}, Date.now());
    if (records.length > 0) out[space] = records;
  }
  return JSON.stringify(out);
}

function refusal(fn: () => unknown): StrataError {
  try {
    fn();
  } catch (error) {
    if (error instanceof StrataError) return error;
    throw error;
  }
  throw new Error('expected BAD_INPUT, the stream was created');
}

describe.each(DRIVERS)('SyncStream given a collection handle on %s', (driver) => {
  let dir: string;
  let mine: Store;
  let other: Store;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-sync-handle-'));
    mine = await openStore({ url: urlOf(driver, dir, 'mine'), sweepInterval: false });
    other = await openStore({ url: urlOf(driver, dir, 'other'), sweepInterval: false });
    await mine.collection('items').insert({ id: 'm1', at: 1 });
    await other.collection('items', { key: 'id' }).insert({ id: 'o1', at: 1 });
  });
  afterEach(async () => {
    await mine.close();
    await other.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("another store's handle is BAD_INPUT naming what to pass; neither store changes", async () => {
    const [mineBefore, otherBefore] = [await dumpOf(mine), await dumpOf(other)];
    const error = refusal(() => new SyncStream<Item>(mine, 's', { collection: other.collection('items'), cursor: (i) => i.at }));
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toContain('another store');
    expect(error.hint).toContain("store.collection('items')");
    expect(error.details).toMatchObject({ option: 'collection' });
    expect(await dumpOf(mine)).toBe(mineBefore);
    expect(await dumpOf(other)).toBe(otherBefore);
  });

  it("a closed store's handle is BAD_INPUT, even one of the same store file", async () => {
    const url = urlOf(driver, dir, 'reopened');
    const first = await openStore({ url, sweepInterval: false });
    const stale = first.collection('items');
    await first.close();
    const again = await openStore({ url, sweepInterval: false });
    try {
      const before = await dumpOf(again);
      const error = refusal(() => new SyncStream<Item>(again, 's', { collection: stale }));
      expect(error.code).toBe('BAD_INPUT');
      expect(error.message).toContain('closed');
      expect(error.hint).toContain("store.collection('items')");
      expect(await dumpOf(again)).toBe(before);
    } finally {
      await again.close();
    }
  });

  it("a transaction's handle or a look-alike object is BAD_INPUT", async () => {
    const before = await dumpOf(mine);
    await mine.transaction(async (tx) => {
      expect(refusal(() => new SyncStream<Item>(mine, 's', { collection: tx.collection('items') })).code).toBe('BAD_INPUT');
    });
    expect(refusal(() => new SyncStream<Item>(mine, 's', { collection: { name: 'items' } })).code).toBe('BAD_INPUT');
    expect(await dumpOf(mine)).toBe(before);
  });

  it("this store's own handle still works, on an observed store too", async () => {
    const stream = new SyncStream<Item>(mine, 's', { collection: mine.collection('items'), cursor: (i) => i.at });
    await stream.save([{ id: 'm2', at: 2 }], { cover: [[1, 2]] });
    expect(await mine.collection('items').count()).toBe(2);
    expect(await other.collection('items').count()).toBe(1);

    const lines: unknown[] = [];
    const logger = { info: (o: unknown) => lines.push(o), warn: () => {}, error: () => {}, debug: () => {} };
    const observed = await openStore({ url: urlOf(driver, dir, 'observed'), sweepInterval: false, logger });
    try {
      const s = new SyncStream<Item>(observed, 's', { collection: observed.collection('items') });
      expect((await s.save([{ id: 'x', at: 1 }])).saved).toBe(1);
    } finally {
      await observed.close();
    }
  });
});
