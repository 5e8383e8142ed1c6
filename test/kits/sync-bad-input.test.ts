// Refused input to the sync kit: every BAD_INPUT names the call (`op`) and says what to do
// (`hint`), and leaves the store exactly as it was; a caller's clock that throws is the
// caller's BAD_INPUT, not a backend failure; a store argument that is not a store, a stream
// name too long for a kv key, `namespace: null` and a details namespace that holds stream
// states are refused up front; a stored state that is not exactly what the kit writes is
// CORRUPT.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError, type Store } from '../../src/index.js';
import { ItemDetails, SyncStream } from '../../src/kits/sync/index.js';

interface Item {
  id: string;
  at: number;
}

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-sync-bad-input-'));
  store = await openStore({ url: `sqlite:${join(dir, 's.db')}`, sweepInterval: false });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The error a call fails with (sync throw or rejection), or null when it succeeds. */
async function failure(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  return null;
}

/** Every record of every space: what "the store is left exactly as it was" compares. */
async function dumpOf(s: Store): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const space of (await s.driver.spaces()).sort()) {
    const records = await s.driver.scan(space, {}, Date.now());
    if (records.length > 0) out[space] = records;
  }
  return JSON.stringify(out);
}

const streamOf = (name = 'items', extra: Record<string, unknown> = {}) =>
  new SyncStream<Item, { page: number }>(store, name, {
    collection: store.collection('items'),
    cursor: (item) => item.at,
    ...extra,
  });

describe('refused input names its op and says what to do, the store unchanged', () => {
  it('every BAD_INPUT of the kit has the op of the call and a hint', async () => {
    const stream = streamOf();
    await stream.save([{ id: 'a', at: 1 }], { cover: [[1, 1]], checkpoint: { page: 1 } });
    const before = await dumpOf(store);
    const col = store.collection('items');
    const cases: Array<[string, string, () => unknown]> = [
      ['pageRange(non-array)', 'stream.pageRange', () => stream.pageRange('x' as never)],
      ['save(non-array)', 'stream.save', () => stream.save('x' as never)],
      ['a cover entry that is not a pair', 'stream.save', () => stream.save([], { cover: [[1]] as never })],
      ['save options that are a list', 'stream.save', () => stream.save([], [] as never)],
      ['save options that are null', 'stream.save', () => stream.save([], null as never)],
      ['cursor not a function', 'SyncStream', () => new SyncStream(store, 's', { collection: col, cursor: 5 as never })],
      ['clock not a function', 'SyncStream', () => new SyncStream(store, 's', { collection: col, clock: 5 as never })],
      ['namespace null', 'SyncStream', () => new SyncStream(store, 's', { collection: col, namespace: null as never })],
      ['namespace with a space', 'SyncStream', () => new SyncStream(store, 's', { collection: col, namespace: 'a b' })],
      ['store null', 'SyncStream', () => new SyncStream(null as never, 's', { collection: col })],
      ['stream name of 1200 bytes', 'SyncStream', () => new SyncStream(store, '日'.repeat(400), { collection: col })],
      ['details.missing(non-array)', 'details.missing', () => stream.details('d').missing('x' as never)],
      ['details.saveMany(non-array)', 'details.save', () => stream.details('d').saveMany('x' as never)],
      ['details.saveMany(bad pair)', 'details.save', () => stream.details('d').saveMany([[1]] as never)],
      ['details namespace with a space', 'stream.details', () => stream.details('a b')],
      ['details in the streams namespace', 'stream.details', () => stream.details('sync.streams')],
      ['ItemDetails of null', 'stream.details', () => new ItemDetails(null as never, 'd')],
    ];
    const problems: string[] = [];
    for (const [what, op, fn] of cases) {
      const e = await failure(fn);
      if (!(e instanceof StrataError) || e.code !== 'BAD_INPUT') problems.push(`${what}: not BAD_INPUT (${String(e)})`);
      else {
        if (e.op !== op) problems.push(`${what}: op ${String(e.op)}, not ${op}`);
        if (typeof e.hint !== 'string' || e.hint === '') problems.push(`${what}: no hint`);
      }
    }
    expect(problems).toEqual([]);
    expect(await dumpOf(store)).toBe(before);
  });

  it("a clock of the caller's that throws or says NaN is BAD_INPUT of the save, nothing written", async () => {
    const broke = new Error('clock broke');
    const throwing = streamOf('c', {
      clock: () => {
        throw broke;
      },
    });
    const before = await dumpOf(store);
    const e = (await failure(() => throwing.save([{ id: 'a', at: 1 }], { cover: [[1, 1]] }))) as StrataError;
    expect(e).toBeInstanceOf(StrataError);
    expect(e.code).toBe('BAD_INPUT');
    expect(e.op).toBe('stream.save');
    expect(e.cause).toBe(broke);
    expect(e.message).toContain('the clock threw: clock broke');
    expect(e.hint).not.toContain('backend');
    const nan = streamOf('n', { clock: () => Number.NaN });
    expect(await failure(() => nan.save([{ id: 'b', at: 2 }], { cover: [[2, 2]] }))).toMatchObject({
      code: 'BAD_INPUT',
      op: 'stream.save',
    });
    expect(await dumpOf(store)).toBe(before);
    expect(await store.collection('items').count()).toBe(0);
  });
});

describe('the constructors check their arguments up front', () => {
  it('a store argument that is not a store is BAD_INPUT, not a TypeError', async () => {
    const col = store.collection('items');
    for (const notStore of [null, undefined, 5, {}, col, { kv: () => null }]) {
      expect(await failure(() => new SyncStream(notStore as never, 's', { collection: col })), String(notStore)).toMatchObject({
        code: 'BAD_INPUT',
        op: 'SyncStream',
      });
      expect(await failure(() => new ItemDetails(notStore as never, 'd'))).toMatchObject({ code: 'BAD_INPUT' });
    }
  });

  it('a stream name must fit a kv key (1024 UTF-8 bytes); one that does is usable', async () => {
    const col = store.collection('items');
    const refused = (await failure(() => new SyncStream(store, '日'.repeat(400), { collection: col }))) as StrataError;
    expect(refused).toMatchObject({ code: 'BAD_INPUT', op: 'SyncStream' });
    expect(refused.message).toContain('1200 UTF-8 bytes');
    // 341 three-byte characters are 1023 bytes: accepted, and every call of the stream works.
    for (const name of ['日'.repeat(341), 'n'.repeat(512)]) {
      const stream = new SyncStream<Item>(store, name, { collection: col, cursor: (item) => item.at });
      await stream.save([{ id: name.slice(0, 3), at: 1 }], { cover: [[1, 1]], checkpoint: 'p' });
      expect((await stream.state()).checkpoint).toBe('p');
      await stream.reset();
      expect((await stream.covered()).isEmpty).toBe(true);
    }
  });

  it('namespace: null is BAD_INPUT like batchSize: null; left out it is the default', async () => {
    const col = store.collection('items');
    for (const option of ['namespace', 'batchSize', 'cursor', 'clock'])
      expect(await failure(() => new SyncStream(store, 's', { collection: col, [option]: null })), option).toMatchObject({
        code: 'BAD_INPUT',
      });
    expect(new SyncStream(store, 's', { collection: col, namespace: undefined }).namespace).toBe('sync.streams');
  });
});

describe('details never share a namespace with stream states', () => {
  it("stream.details(<the stream's own namespace>) is BAD_INPUT; the state stays", async () => {
    const stream = streamOf('items');
    await stream.save([{ id: 'a', at: 1 }], { cover: [[1, 1]], checkpoint: { page: 1 } });
    const before = await dumpOf(store);
    expect(await failure(() => stream.details('sync.streams'))).toMatchObject({ code: 'BAD_INPUT', op: 'stream.details' });
    const own = streamOf('other', { namespace: 'my.streams' });
    await own.save([], { checkpoint: { page: 2 } });
    const withOwn = await dumpOf(store);
    expect(await failure(() => own.details('my.streams'))).toMatchObject({ code: 'BAD_INPUT' });
    // The default streams namespace is refused from any stream, and to ItemDetails itself.
    expect(await failure(() => own.details('sync.streams'))).toMatchObject({ code: 'BAD_INPUT' });
    expect(await failure(() => new ItemDetails(store, 'sync.streams'))).toMatchObject({ code: 'BAD_INPUT' });
    expect(await dumpOf(store)).toBe(withOwn);
    expect(withOwn).not.toBe(before);
    expect(await stream.checkpoint()).toEqual({ page: 1 });
    expect(await own.checkpoint()).toEqual({ page: 2 });
    // A namespace of its own works.
    await stream.details<string[]>('jobs').save('items', ['job']);
    expect(await stream.checkpoint()).toEqual({ page: 1 });
  });
});

describe('a stored state is read back strictly', () => {
  it('ranges out of order, overlapping or adjacent, or no checkpoint key, are CORRUPT; reset() recovers', async () => {
    const stream = streamOf('shape');
    const kv = store.kv('sync.streams');
    for (const bad of [
      {
        covered: [
          [10, 20],
          [1, 15],
        ],
        checkpoint: null,
        updatedAt: 1,
      },
      {
        covered: [
          [10, 20],
          [1, 5],
        ],
        checkpoint: null,
        updatedAt: 1,
      },
      {
        covered: [
          [1, 15],
          [10, 20],
        ],
        checkpoint: null,
        updatedAt: 1,
      },
      {
        covered: [
          [1, 5],
          [6, 9],
        ],
        checkpoint: null,
        updatedAt: 1,
      },
      { covered: [[1, 5]], updatedAt: 1 },
    ]) {
      await kv.set('shape', bad);
      expect(await failure(() => stream.state()), JSON.stringify(bad)).toMatchObject({ code: 'CORRUPT', op: 'stream.state' });
      expect(await failure(() => stream.save([], { cover: [[30, 31]] }))).toMatchObject({ code: 'CORRUPT' });
    }
    // What the kit writes reads back as it was.
    await kv.set('shape', {
      covered: [
        [1, 5],
        [7, 9],
      ],
      checkpoint: null,
      updatedAt: 1,
    });
    expect((await stream.covered()).toJSON()).toEqual([
      [1, 5],
      [7, 9],
    ]);
    await kv.set('shape', { covered: [[1, 5]], updatedAt: 1 });
    await stream.reset();
    expect(await stream.state()).toMatchObject({ checkpoint: null, updatedAt: null });
  });
});
