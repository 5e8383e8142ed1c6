// What each size counts (docs/encryption.md, "Cost"): kv.size() is the UTF-8 length of the
// value's JSON text as written, the same encrypted or not (the conformance suites run under
// integrity 'mac' and expect it); stats() and quotas count records as stored, ciphertext and
// MACs included, by the sizes the docs give. A bytes quota is met by the stats() measure.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Store } from '../../src/index.js';
import { rawDriver } from '../../src/testing/encryption-suite.js';
import { failure, KEY1, openAt, tempDir } from './encrypted-store-fixtures.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const url = (name: string): string => `sqlite:${join(t.dir, name)}`;
const stored = async (store: Store, space: string, key: string): Promise<number> =>
  Buffer.byteLength((await rawDriver(store).get(space, key, Date.now()))!.value, 'utf8');
/** docs/encryption.md: n bytes of JSON take 4/3 x (n + 60), rounded up, plus the key id and 8. */
const sealedSize = (n: number, keyId = 'k1'): number => Math.ceil((4 * (n + 60)) / 3) + keyId.length + 8;

describe('sizes on an encrypted namespace', () => {
  it('kv.size() counts the JSON written; stats() and the quota count the stored ciphertext', async () => {
    const store = await openAt(url('db.sqlite'), { keys: `k1:${KEY1}` });
    try {
      const kv = store.kv('q', { encrypt: true, quota: { bytes: 150 } });
      await kv.set('a', 'x');
      expect(await kv.size('a')).toBe(3);
      expect(await stored(store, 'kv.q', 'a')).toBe(sealedSize(3));
      const q = (await store.stats()).kv.find((s) => s.name === 'q')!;
      expect(q.bytes).toBe(1 + sealedSize(3));
      // 95 of 150 bytes used: a second value of 3 bytes by kv.size() is 95 more by the quota's measure.
      await failure(kv.set('b', 'y'), 'QUOTA_EXCEEDED');
      expect(await kv.list()).toEqual(['a']);
    } finally {
      await store.close();
    }
  });

  it("under integrity 'mac': a kv value grows by 61 bytes plus the key id, a document by 54 plus the key id", async () => {
    const store = await openAt(url('mac.sqlite'), { keys: `k1:${KEY1}`, integrity: 'mac' });
    try {
      await store.kv('m').set('a', 'hello');
      expect(await store.kv('m').size('a')).toBe(7);
      expect(await stored(store, 'kv.m', 'a')).toBe(7 + 61 + 2);
      await store.kv('e', { encrypt: true }).set('a', 'hello');
      expect(await stored(store, 'kv.e', 'a')).toBe(sealedSize(7) + 61 + 2);
      await store.collection('c').insert({ id: 'd', n: 1 } as never);
      expect(await stored(store, 'c.c', 'd')).toBe(Buffer.byteLength(JSON.stringify({ id: 'd', n: 1 })) + 54 + 2);
    } finally {
      await store.close();
    }
  });

  it('a lookup field adds 51 bytes plus the key id to its ciphertext', async () => {
    const store = await openAt(url('lookup.sqlite'), { keys: `k1:${KEY1}` });
    try {
      const c = store.collection('u', { encrypt: ['plain', { path: 'email', lookup: true }] });
      await c.insert({ id: 'd', plain: 'a@x.io', email: 'a@x.io' } as never);
      const doc = JSON.parse((await rawDriver(store).get('c.u', 'd', Date.now()))!.value);
      const extra = Buffer.byteLength(JSON.stringify(doc.email)) - Buffer.byteLength(JSON.stringify(doc.plain));
      expect(extra).toBe(51 + 2);
    } finally {
      await store.close();
    }
  });
});
