// `stratadb/keyv` takes every key and ttl keyv's own Map store takes. A key Strata itself
// refuses (over 1,024 UTF-8 bytes, such as a long URL, or holding a lone UTF-16 surrogate) is
// stored under a hash with the original key beside the value, and every adapter call agrees
// on it; a ttl past the last time a Date can hold means no Strata expiry; a negative ttl
// (already expired for keyv) leaves nothing that has() would see.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Keyv from 'keyv';
import { openStore, type Store } from '../../src/index.js';
import { KeyvStrata } from '../../src/keyv.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-keyv-keys-'));
const stores: Record<string, Store> = {
  memory: await openStore({ url: 'memory:', sweepInterval: false }),
  sqlite: await openStore({ url: `sqlite:${join(dir, 'k.db')}`, sweepInterval: false }),
  file: await openStore({ url: `file:${join(dir, 'files')}`, sweepInterval: false }),
};
afterAll(async () => {
  for (const store of Object.values(stores)) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

let spaces = 0;
/** keyv over Strata (a namespace of its own per call) and keyv over its default Map, errors collected. */
function pair(store: Store, namespace = 'cache'): { strata: Keyv; map: Keyv; errors: unknown[]; name: string } {
  const name = `keys${++spaces}`;
  const errors: unknown[] = [];
  const strata = new Keyv({ store: new KeyvStrata(store, { name }), namespace });
  strata.on('error', (e) => errors.push(e));
  return { strata, map: new Keyv({ namespace }), errors, name };
}

const LONG_URL = `https://api.example.com/search?q=${'x'.repeat(2000)}`;
const LONE_SURROGATE = 'user:😀'.slice(0, -1); // cut in the middle of the surrogate pair

describe.each(Object.keys(stores))('KeyvStrata keys Strata refuses, on %s', (driver) => {
  const store = stores[driver]!;

  it.each([
    ['a 2,000-character URL', LONG_URL],
    ['a lone UTF-16 surrogate', LONE_SURROGATE],
  ])('%s round-trips through set, get, has, getMany, iterator and delete, as with keyv', async (_what, key) => {
    const { strata, map, errors } = pair(store);
    for (const keyv of [map, strata]) {
      expect(await keyv.set(key, { body: 'ok' })).toBe(true);
      await keyv.set('short', 1);
      expect(await keyv.get(key)).toEqual({ body: 'ok' });
      expect(await keyv.has(key)).toBe(true);
      expect(await keyv.get([key, 'short', `${key}-other`])).toEqual([{ body: 'ok' }, 1, undefined]);
      expect(await keyv.has([key, `${key}-other`])).toEqual([true, false]);
      const listed = new Map<string, unknown>();
      for await (const [k, v] of keyv.iterator!(undefined)) listed.set(k as string, v);
      expect(listed).toEqual(
        new Map<string, unknown>([
          [key, { body: 'ok' }],
          ['short', 1],
        ]),
      );
      expect(await keyv.delete(key)).toBe(true);
      expect(await keyv.get(key)).toBeUndefined();
      expect(await keyv.has(key)).toBe(false);
    }
    expect(errors).toEqual([]);
  });

  it('keys that differ only in their lone surrogates, or in a character past the limit, stay apart', async () => {
    const { strata, errors } = pair(store);
    const keys = ['a\ud800', 'a\ud801', `${LONG_URL}1`, `${LONG_URL}2`];
    for (const [i, key] of keys.entries()) await strata.set(key, i);
    expect(await strata.get(keys)).toEqual([0, 1, 2, 3]);
    expect(errors).toEqual([]);
  });

  it('a key that holds the marker of hashed keys is hashed too, so it never meets a stored one', async () => {
    const { strata, name } = pair(store);
    await strata.set(LONG_URL, 'long');
    const [hashed] = await store.kv(name).list();
    expect(Buffer.byteLength(hashed!, 'utf8')).toBeLessThanOrEqual(1024);
    // The stored form of the long key, given as a key of its own (without the prefix keyv adds).
    const lookalike = hashed!.slice('cache:'.length);
    await strata.set(lookalike, 'lookalike');
    expect(await strata.get(LONG_URL)).toBe('long');
    expect(await strata.get(lookalike)).toBe('lookalike');
  });

  it('clear() removes the hashed keys of its keyv namespace only', async () => {
    const { strata: a, name } = pair(store, 'a');
    const b = new Keyv({ store: new KeyvStrata(store, { name }), namespace: 'b' });
    await a.set(LONG_URL, 1);
    await b.set(LONG_URL, 2);
    await a.clear();
    expect(await a.get(LONG_URL)).toBeUndefined();
    expect(await b.get(LONG_URL)).toBe(2);
  });

  it('a namespace too long (or not storable) to prefix a hashed key: clear() and iterator() still take its hashed keys', async () => {
    for (const namespace of ['n'.repeat(1000), LONE_SURROGATE]) {
      const { strata: a, map, name } = pair(store, namespace);
      const b = new Keyv({ store: new KeyvStrata(store, { name }), namespace: 'other' });
      await a.set(LONG_URL, 1);
      await a.set('short', 2);
      await map.set(LONG_URL, 1);
      await map.set('short', 2);
      await b.set(LONG_URL, 3);
      const seen = new Map<string, unknown>();
      for await (const [key, value] of a.iterator!(undefined)) seen.set(key as string, value);
      const expected = new Map<string, unknown>();
      for await (const [key, value] of map.iterator!(undefined)) expected.set(key as string, value);
      expect(seen).toEqual(expected);
      await a.clear();
      expect(await a.get(LONG_URL)).toBeUndefined();
      expect(await a.get('short')).toBeUndefined();
      expect(await b.get(LONG_URL)).toBe(3);
      expect(await store.kv(name).count()).toBe(1);
    }
  });

  it('setMany and deleteMany take hashed keys too', async () => {
    const { strata, errors } = pair(store);
    await strata.setMany([
      { key: LONG_URL, value: 1 },
      { key: LONE_SURROGATE, value: 2, ttl: 60_000 },
    ]);
    expect(await strata.get([LONG_URL, LONE_SURROGATE])).toEqual([1, 2]);
    expect(await strata.deleteMany([LONG_URL, LONE_SURROGATE])).toBe(true);
    expect(await strata.get([LONG_URL, LONE_SURROGATE])).toEqual([undefined, undefined]);
    expect(errors).toEqual([]);
  });
});

describe('KeyvStrata ttl', () => {
  const store = stores.sqlite!;

  it('a very long ttl (Number.MAX_SAFE_INTEGER ms) is stored with no Strata expiry, as keyv takes it', async () => {
    const { strata, map, errors, name } = pair(store);
    expect(await map.set('forever', 'v', Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(await strata.set('forever', 'v', Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(await strata.get('forever')).toBe('v');
    expect((await store.kv(name).getEntry('cache:forever'))?.expiresAt).toBeNull();
    expect(errors).toEqual([]);
  });

  it('a ttl that still fits a Date stays a Strata ttl', async () => {
    const { strata, name } = pair(store);
    await strata.set('year', 'v', 365 * 86_400_000);
    expect((await store.kv(name).getEntry('cache:year'))?.expiresAt).toBeInstanceOf(Date);
  });

  it('after a set with a negative ttl, has() agrees with get(): absent, as with keyv', async () => {
    const { strata, map, errors, name } = pair(store);
    for (const keyv of [map, strata]) {
      await keyv.set('gone', 0);
      await keyv.set('gone', 1, -1000);
      const has = await keyv.has('gone'); // asked before get(), which deletes an expired entry
      expect(await keyv.get('gone')).toBeUndefined();
      expect(has).toBe(false);
    }
    await strata.setMany([{ key: 'gone-too', value: 1, ttl: -1 }]);
    expect(await strata.has('gone-too')).toBe(false);
    expect(await store.kv(name).list()).toEqual([]);
    expect(errors).toEqual([]);
  });
});
