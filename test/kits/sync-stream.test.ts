// A sync stream on a real store: saves are one transaction (items + ranges + checkpoint),
// batches of batchSize, "is this page covered", per-item details, and the bad-input paths
// (each leaves the store as it was).
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

let dir: string;
let store: Store;
const DRIVERS = ['sqlite', 'file', 'memory'] as const;
const urlOf = (driver: (typeof DRIVERS)[number]) =>
  driver === 'sqlite' ? `sqlite:${join(dir, 's.db')}` : driver === 'file' ? `file:${join(dir, 'f')}` : 'memory:';

const items = (from: number, to: number): Item[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ id: `i${from + i}`, at: from + i }));

async function codeOf(promise: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    return StrataError.is(error) ? error.code : `not a StrataError: ${String(error)}`;
  }
  return undefined;
}

const streamOf = (name = 'items', options: Record<string, unknown> = {}) =>
  new SyncStream<Item, { page: number }>(store, name, {
    collection: store.collection('items'),
    cursor: (item) => item.at,
    ...options,
  });

describe.each(DRIVERS)('SyncStream on %s', (driver) => {
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-sync-stream-'));
    store = await openStore(urlOf(driver));
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('saves items, ranges and checkpoint together, in batches', async () => {
    const stream = streamOf();
    expect(await stream.state()).toMatchObject({ checkpoint: null, updatedAt: null });
    const result = await stream.save(items(1, 120), { cover: [[1, 120]], checkpoint: { page: 1 } });
    expect(result).toMatchObject({ saved: 120, batches: 3 });
    expect(await store.collection('items').count()).toBe(120);
    expect(await stream.checkpoint()).toEqual({ page: 1 });
    expect(await stream.isCovered(10, 100)).toBe(true);
    await stream.save(items(200, 210), { cover: [[200, 210]] });
    expect(await stream.checkpoint()).toEqual({ page: 1 }); // left out: kept
    expect(await stream.gaps(1, 220)).toEqual([
      [121, 199],
      [211, 220],
    ]);
    expect((await stream.save([], { cover: [[121, 199]], checkpoint: null })).covered.toJSON()).toEqual([[1, 210]]);
    expect(await stream.checkpoint()).toBeNull();
    expect(typeof (await stream.state()).updatedAt).toBe('number');
  });

  it('tells a covered page from one with something new, and streams apart', async () => {
    const stream = streamOf();
    await stream.save(items(1, 50), { cover: [[1, 50]] });
    expect(await stream.isPageCovered(items(10, 20))).toBe(true);
    expect(await stream.isPageCovered(items(45, 55))).toBe(false);
    expect(await stream.isPageCovered([])).toBe(false);
    expect(stream.pageRange(items(3, 9).reverse())).toEqual([3, 9]);
    expect(await streamOf('other').isPageCovered(items(10, 20))).toBe(false);
  });

  it('keeps per-item details; an empty list counts as fetched', async () => {
    const jobs = streamOf().details<string[]>('jobs_by_run');
    await jobs.saveMany([
      ['r1', ['build']],
      ['r2', []],
    ]);
    expect(await jobs.has('r2')).toBe(true);
    expect(await jobs.missing(['r1', 'r2', 'r3', 'r3', 'r4'])).toEqual(['r3', 'r4']);
    expect(await jobs.get('r1')).toEqual(['build']);
    expect(await codeOf(jobs.save('r5', null as unknown as string[]))).toBe('BAD_INPUT');
    expect(await jobs.has('r5')).toBe(false);
  });

  it('refuses bad options and bad input with BAD_INPUT, the store unchanged', async () => {
    const collection = store.collection('items');
    expect(await codeOf(() => new SyncStream(store, '', { collection }))).toBe('BAD_INPUT');
    expect(await codeOf(() => new SyncStream(store, 's', { collection, batchsize: 5 } as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => new SyncStream(store, 's', { collection, batchSize: 0 }))).toBe('BAD_INPUT');
    expect(await codeOf(() => new SyncStream(store, 's', { collection: 'items' } as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => new SyncStream(store, 's', undefined as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => new SyncStream(store, 's', { collection, cursor: 'at' } as never))).toBe('BAD_INPUT');
    const stream = streamOf();
    await stream.save(items(1, 5), { cover: [[1, 5]], checkpoint: { page: 1 } });
    const before = await stream.state();
    expect(await codeOf(stream.save(items(6, 9), { cover: [[9, 6]] }))).toBe('BAD_INPUT');
    expect(await codeOf(stream.save(items(6, 9), { cover: [[6, 'soon']] as never }))).toBe('BAD_INPUT');
    expect(await codeOf(stream.save(items(6, 9), { cover: [6, 9] as never }))).toBe('BAD_INPUT');
    expect(await codeOf(stream.save(items(6, 9), { cover: [[6, 9]], checkpoint: { page: 2 }, ckeckpoint: 1 } as never))).toBe(
      'BAD_INPUT',
    );
    expect(await codeOf(stream.save('items' as never))).toBe('BAD_INPUT');
    expect(await codeOf(stream.save(items(6, 9), { cover: [[6, 9]], checkpoint: { page: () => 2 } as never }))).toBe('BAD_INPUT');
    // A value JSON cannot hold, in the last batch: the transaction writes none of the batches.
    const bad = [...items(6, 60), { id: 'bad', at: 61, fn: () => 1 } as Item];
    expect(await codeOf(stream.save(bad, { cover: [[6, 61]], checkpoint: { page: 2 } }))).toBe('BAD_INPUT');
    expect(await codeOf(stream.isCovered(5, 1))).toBe('BAD_INPUT');
    expect(await codeOf(stream.gaps(Number.NaN, 1))).toBe('BAD_INPUT');
    expect(await codeOf(() => stream.pageRange([{ id: 'x', at: 1.5 }]))).toBe('BAD_INPUT');
    const noCursor = new SyncStream<Item>(store, 'nc', { collection });
    expect(await codeOf(noCursor.isPageCovered(items(1, 2)))).toBe('BAD_INPUT');
    expect(await store.collection('items').count()).toBe(5);
    expect(await stream.state()).toEqual(before);
  });

  it('reports a damaged state as CORRUPT and reset() starts the stream over', async () => {
    const stream = streamOf();
    await stream.save(items(1, 3), { cover: [[1, 3]] });
    await store.kv('sync.streams').set('items', { covered: [[3, 1]], updatedAt: 1 });
    expect(await codeOf(stream.state())).toBe('CORRUPT');
    expect(await codeOf(stream.save(items(4, 5), { cover: [[4, 5]] }))).toBe('CORRUPT');
    await store.kv('sync.streams').set('items', 'junk');
    expect(await codeOf(stream.covered())).toBe('CORRUPT');
    await stream.reset();
    expect((await stream.covered()).isEmpty).toBe(true);
    expect(await store.collection('items').count()).toBe(3);
  });

  it('two concurrent saves of one stream both land (the transaction reruns, no range lost)', async () => {
    const stream = streamOf();
    await Promise.all([
      stream.save(items(1, 10), { cover: [[1, 10]] }),
      stream.save(items(20, 30), { cover: [[20, 30]] }),
      stream.save(items(11, 19), { cover: [[11, 19]] }),
    ]);
    expect((await stream.covered()).toJSON()).toEqual([[1, 30]]);
    expect(await store.collection('items').count()).toBe(30);
  });
});
