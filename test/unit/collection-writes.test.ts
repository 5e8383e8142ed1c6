import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { openStore, type Store } from '../../src/index.js';
import { jsonExact } from '../../src/collection-docs.js';
import { expectCode } from '../conformance/index.js';

// What collection writes return (without re-reading what they wrote), and the synchronous
// get path: both must agree exactly with what a later read returns, on sqlite (syncReads)
// and memory (asynchronous reads).
const stores: Store[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function open(kind: 'sqlite' | 'memory'): Promise<Store> {
  let url = 'memory:';
  if (kind === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'strata-coll-'));
    dirs.push(dir);
    url = `sqlite:${join(dir, 's.db')}`;
  }
  const store = await openStore({ url, sweepInterval: false });
  stores.push(store);
  return store;
}

describe.each(['sqlite', 'memory'] as const)('collection writes on %s', (kind) => {
  it('return what a read returns, without a schema (Dates become strings, undefined fields vanish)', async () => {
    const store = await open(kind);
    const c = store.collection('docs');
    const input = { id: 'a', at: new Date(Date.UTC(2026, 0, 1)), gone: undefined, nested: { n: -0, list: [1, 'x'] } };
    const cases = [
      await c.insert(input),
      await c.set('a', input),
      await c.upsert(input),
      (await c.upsertMany([input]))[0],
      await c.update('a', {}),
    ];
    for (const written of cases) expect(written).toStrictEqual(await c.get('a'));
    expect(await c.get('a')).toStrictEqual({ id: 'a', at: '2026-01-01T00:00:00.000Z', nested: { n: 0, list: [1, 'x'] } });
    const plain = { id: 'b', n: 1, tags: ['x'], meta: { ok: true, none: null } };
    const returned = await c.insert(plain);
    expect(returned).toStrictEqual(await c.get('b'));
    // As documented: JSON-exact documents that carry their key come back as the same object.
    expect(returned).toBe(plain);
    const generated = await c.insert({ text: 'no key' });
    expect(generated).toStrictEqual(await c.get(generated.id as string));
    expect(plain).toStrictEqual({ id: 'b', n: 1, tags: ['x'], meta: { ok: true, none: null } });
  });

  it('return the schema output, equal to what a read returns', async () => {
    const store = await open(kind);
    const c = store.collection('typed', { schema: z.object({ id: z.string(), at: z.coerce.date(), n: z.number().default(3) }) });
    const written = await c.insert({ id: 'a', at: '2026-01-01T00:00:00.000Z' });
    expect(written).toStrictEqual({ id: 'a', at: new Date(Date.UTC(2026, 0, 1)), n: 3 });
    expect(await c.get('a')).toStrictEqual(written);
    const input = { id: 'c', at: 0 };
    expect(await c.upsert(input)).not.toBe(input);
    expect(input).toStrictEqual({ id: 'c', at: 0 });
    expect((await c.upsertMany([{ id: 'b', at: 0 }]))[0]).toStrictEqual(await c.get('b'));
  });

  it('get: null for absent keys, BAD_INPUT for bad keys, VALIDATION_FAILED naming the key, CLOSED after close', async () => {
    const store = await open(kind);
    const c = store.collection('items2', { schema: z.object({ id: z.string(), n: z.number() }) });
    expect(await c.get('nope')).toBeNull();
    await expectCode(c.get(''), 'BAD_INPUT');
    await expectCode(c.get({} as never), 'BAD_INPUT');
    await store.driver.batch(
      [{ type: 'put', space: 'c.items2', key: 'x', value: '{"id":"x","n":"no"}', expiresAt: null }],
      Date.now(),
    );
    const error = await expectCode(c.get('x'), 'VALIDATION_FAILED');
    expect(error.op).toBe('collection.get');
    expect(error.details).toMatchObject({ collection: 'items2', key: 'x' });
    expect(error.hint).toContain('collection.verify()');
    await store.close();
    await expectCode(c.get('x'), 'CLOSED');
  });

  it('get of a stored document that is not JSON is CORRUPT and names the key', async () => {
    const store = await open(kind);
    const c = store.collection('raw');
    await c.insert({ id: 'ok' });
    await store.driver.batch([{ type: 'put', space: 'c.raw', key: 'bad', value: '{"id":', expiresAt: null }], Date.now());
    expect((await expectCode(c.get('bad'), 'CORRUPT')).details?.key).toBe('bad');
    expect((await c.verify()).invalid.map((i) => i.key)).toEqual(['bad']);
  });
});

describe('jsonExact', () => {
  it('is true exactly for values JSON gives back unchanged', () => {
    for (const v of [{ a: 1, b: ['x', true, null, { c: 2.5 }] }, [], {}, 'x', 0, null]) {
      expect(jsonExact(v)).toBe(true);
      expect(JSON.parse(JSON.stringify(v))).toStrictEqual(v);
    }
    const holey = [1, 2];
    delete holey[0];
    for (const v of [{ a: undefined }, holey, { d: new Date() }, -0, { n: -0 }, Object.create(null), [undefined], 1n]) {
      expect(jsonExact(v)).toBe(false);
    }
  });
});
