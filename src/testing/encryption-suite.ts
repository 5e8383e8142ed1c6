import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';
import type { Driver, StoredRecord } from '../drivers/driver.js';
import type { Store } from '../store.js';

/** Fixed test keys (never use fixed keys in an app). */
export const TEST_KEY_1 = Buffer.alloc(32, 1).toString('base64');
export const TEST_KEY_2 = Buffer.alloc(32, 2).toString('base64');
const K1 = `k1:${TEST_KEY_1}`;
const K2_K1 = `k2:${TEST_KEY_2},k1:${TEST_KEY_1}`;

/** The driver under a store's encryption layer: what is really stored. */
export function rawDriver(store: Store): Driver {
  // Layers above the encryption layer (quotas) are unwrapped on the way down; by what they
  // say rather than instanceof, so a store from the built package (dist/) works too.
  let driver: Driver = store.driver;
  while (driver.capabilities.encryption === true && 'inner' in driver) {
    const inner = (driver as { inner: Driver }).inner;
    if (inner.capabilities.encryption !== true) return inner;
    driver = inner;
  }
  return driver;
}

const CANARY = 'canary-secret-7f3a';

/**
 * Encryption at rest on every driver: whole kv values and collection fields, lookups,
 * refusals, tampering and moved ciphertexts, record MACs, key checks and rotation.
 */
export function encryptionSuite(factory: DriverFactory): void {
  describe('encryption', () => {
    let h: Harness;
    const open = (keys: string, integrity: 'checksum' | 'mac' = 'checksum') =>
      makeHarness(factory, { encryption: { keys, integrity } });
    beforeEach(async () => {
      h = await open(K1);
    });
    afterEach(async () => {
      await h.dispose();
    });
    const raw = (space: string, key: string): Promise<StoredRecord | null> => rawDriver(h.store).get(space, key, h.clock.now);
    const plantRaw = (space: string, key: string, value: string, expiresAt: number | null = null) =>
      rawDriver(h.store).batch([{ type: 'put', space, key, value, expiresAt }], h.clock.now, { results: false });

    it('encrypts whole kv values; every read path decrypts them', async () => {
      const kv = h.store.kv('secrets', { encrypt: true });
      const values: unknown[] = [
        CANARY,
        0,
        -1.5,
        true,
        null,
        [1, 'two', { three: 3 }],
        { nested: { deep: CANARY, unicode: 'é😀' } },
        '',
      ];
      for (const [i, v] of values.entries()) await kv.set(`k${i}`, v);
      for (const [i, v] of values.entries()) expect(await kv.get(`k${i}`)).toEqual(v);
      expect(await kv.getMany(['k0', 'missing', 'k6'])).toEqual([CANARY, null, values[6]]);
      expect((await kv.getEntry('k0'))?.value).toBe(CANARY);
      const seen: Array<[string, unknown]> = [];
      for await (const entry of kv.entries()) seen.push(entry);
      expect(seen.length).toBe(values.length);
      expect(await kv.incr('n', 2)).toBe(2);
      expect(await kv.update('n', (old) => (old as number) + 1)).toBe(3);
      await kv.setMany([
        ['m1', { a: 1 }],
        ['m2', CANARY],
      ]);
      expect(await kv.take('m2')).toBe(CANARY);
      expect(await kv.get('m2')).toBeNull();
      await kv.set('ttl', CANARY, { ttl: 1000 });
      h.clock.advance(1001);
      expect(await kv.get('ttl')).toBeNull();
      const stored = await raw('kv.secrets', 'k0');
      expect(stored!.value.startsWith('"enc1.k1.')).toBe(true);
      for (const key of ['k0', 'k6', 'm1']) expect((await raw('kv.secrets', key))!.value).not.toContain('canary');
      const total = await h.store.transaction(async (tx) => {
        await tx.kv('secrets').set('tx', CANARY);
        return tx.kv('secrets').get('k0');
      });
      expect(total).toBe(CANARY);
      expect((await raw('kv.secrets', 'tx'))!.value).not.toContain('canary');
      expect((await h.store.verify()).ok).toBe(true);
    });

    it('encrypts collection fields, nested ones too; other fields stay queryable', async () => {
      const users = h.store.collection('users', {
        encrypt: ['apiKey', 'profile.phone', { path: 'email', lookup: true }],
        indexes: ['status', 'email'],
      });
      await users.insert({ id: 'u1', email: 'a@x.io', apiKey: CANARY, profile: { phone: '+1 555', city: 'Oslo' }, status: 'on' });
      await users.insert({ id: 'u2', email: 'b@x.io', status: 'off' });
      await users.upsertMany([{ id: 'u3', email: 'a@x.io', apiKey: 'k3', status: 'on', profile: {} }]);
      expect(await users.get('u1')).toEqual({
        id: 'u1',
        email: 'a@x.io',
        apiKey: CANARY,
        profile: { phone: '+1 555', city: 'Oslo' },
        status: 'on',
      });
      expect(await users.get('u2')).toEqual({ id: 'u2', email: 'b@x.io', status: 'off' });
      const stored = (await raw('c.users', 'u1'))!.value;
      for (const secret of ['canary', '+1 555', 'a@x.io']) expect(stored).not.toContain(secret);
      expect(stored).toContain('Oslo');
      expect((await users.query({ email: 'a@x.io' }, { sort: { id: 1 } })).map((u) => u.id)).toEqual(['u1', 'u3']);
      expect(await users.count({ email: { $in: ['b@x.io', 'nobody@x.io'] } })).toBe(1);
      expect((await users.query({ status: 'on', 'profile.city': 'Oslo' })).map((u) => u.id)).toEqual(['u1']);
      expect(await users.count({ apiKey: { $exists: true } })).toBe(2);
      const page = await users.page({ email: 'a@x.io' }, { limit: 1, sort: { status: 1 } });
      expect(page.items.length).toBe(1);
      expect(page.next).not.toBeNull();
      await users.update('u1', { apiKey: 'rotated' });
      expect((await users.get('u1'))!.apiKey).toBe('rotated');
      expect(await users.updateWhere({ email: 'a@x.io' }, { status: 'done' })).toBe(2);
      expect(await users.count({ status: 'done' })).toBe(2);
      const inTx = await h.store.transaction(async (tx) => tx.collection('users').count({ email: 'a@x.io' }));
      expect(inTx).toBe(2);
      expect(await users.deleteWhere({ email: 'b@x.io' })).toBe(1);
      expect((await h.store.verify()).ok).toBe(true);
    });

    it('refuses to filter, sort or index on encrypted fields, saying why', async () => {
      const users = h.store.collection('users', { encrypt: ['apiKey', { path: 'email', lookup: true }] });
      await users.insert({ id: 'u1', email: 'a@x.io', apiKey: 'k' });
      for (const filter of [
        { apiKey: 'k' },
        { email: { $prefix: 'a' } },
        { email: { $ne: 'a' } },
        { email: { $gt: 'a' } },
        { email: null },
        { $or: [{ id: 'u1' }, { apiKey: 'k' }] },
      ]) {
        const error = await expectCode(users.query(filter), 'BAD_INPUT');
        expect(error.message).toMatch(/encrypted|lookup/);
      }
      // A sort is refused for lookup fields too: the hint must not send you to declare one.
      for (const sort of [{ email: 1 }, { apiKey: -1 }] as Array<Record<string, 1 | -1>>) {
        const error = await expectCode(users.query({}, { sort }), 'BAD_INPUT');
        expect(error.hint).toMatch(/sort on another field/);
        expect(error.hint).not.toMatch(/lookup: true/);
      }
      await expectCode(users.count({ apiKey: { $in: ['k'] } }), 'BAD_INPUT');
      expect(() => h.store.collection('other', { encrypt: ['secret'], indexes: ['secret'] })).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT' }),
      );
      expect(() => h.store.collection('keyed', { key: 'id', encrypt: ['id'] })).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT' }),
      );
      expect(() => h.store.collection('overlap', { encrypt: ['a', 'a.b'] })).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT' }),
      );
      expect(() => h.store.collection('bad', { encrypt: [{ path: 'a', lookup: 'yes' }] as never })).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT' }),
      );
      await expectCode(users.insert({ id: 'u2', email: { not: 'scalar' } }), 'BAD_INPUT');
      expect(await users.count()).toBe(1);
      // Declared once, the encryption of a space cannot change within the store.
      expect(() => h.store.collection('users', { encrypt: ['apiKey'] })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
      expect(() => h.store.collection('users', { encrypt: [{ path: 'email', lookup: false }, 'apiKey'] })).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT' }),
      );
      // The same fields in another order are the same encryption.
      h.store.collection('users', { encrypt: [{ path: 'email', lookup: true }, 'apiKey'] });
      h.store.kv('plain');
      h.store.kv('sealed', { encrypt: true });
      expect(() => h.store.kv('sealed', { encrypt: false })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    });

    it('rejects every flipped byte and every truncation of a ciphertext, and ciphertexts moved elsewhere', async () => {
      const kv = h.store.kv('secrets', { encrypt: true });
      await kv.set('a', CANARY);
      await kv.set('b', 'other');
      const sealed = JSON.parse((await raw('kv.secrets', 'a'))!.value) as string;
      const [, keyId, body] = sealed.split('.') as [string, string, string];
      const bytes = Buffer.from(body, 'base64url');
      const variants: string[] = [];
      for (let i = 0; i < bytes.length; i++) {
        const flipped = Buffer.from(bytes);
        flipped[i] = flipped[i]! ^ 0x01;
        variants.push(`enc1.${keyId}.${flipped.toString('base64url')}`);
      }
      for (let n = 0; n < sealed.length; n += 3) variants.push(sealed.slice(0, n));
      variants.push(sealed.replace('enc1.k1.', 'enc1.k9.'), sealed.replace('enc1.', 'enc2.'), `${sealed}A`);
      await rawDriver(h.store).batch(
        variants.map((v, i) => ({
          type: 'put' as const,
          space: 'kv.secrets',
          key: `t${i}`,
          value: JSON.stringify(v),
          expiresAt: null,
        })),
        h.clock.now,
        { results: false },
      );
      let rejected = 0;
      for (let i = 0; i < variants.length; i++) {
        const error = await expectCode(kv.get(`t${i}`), 'DECRYPT_FAILED');
        expect(error.message).not.toContain('canary');
        rejected++;
      }
      expect(rejected).toBe(variants.length);
      // The original, copied to another key or another encrypted namespace, does not open,
      // also once it was read (and its plaintext kept in the cache of opened values).
      expect(await kv.get('a')).toBe(CANARY);
      await plantRaw('kv.secrets', 'b', JSON.stringify(sealed));
      await expectCode(kv.get('b'), 'DECRYPT_FAILED');
      h.store.kv('elsewhere', { encrypt: true });
      await h.store.kv('elsewhere').set('x', 1);
      await plantRaw('kv.elsewhere', 'a', JSON.stringify(sealed));
      await expectCode(h.store.kv('elsewhere').get('a'), 'DECRYPT_FAILED');
      expect(await kv.get('a')).toBe(CANARY);
      const report = await h.store.verify();
      expect(report.ok).toBe(false);
      expect(report.issues.filter((i) => i.code === 'INTEGRITY').length).toBe(variants.length + 2);
    });

    it('rejects a field ciphertext moved to another document or another field', async () => {
      const users = h.store.collection('users', { encrypt: ['apiKey', 'token'] });
      await users.insert({ id: 'u1', apiKey: 'key-1', token: 'tok-1' });
      await users.insert({ id: 'u2', apiKey: 'key-2', token: 'tok-2' });
      const one = JSON.parse((await raw('c.users', 'u1'))!.value) as Record<string, string>;
      const two = JSON.parse((await raw('c.users', 'u2'))!.value) as Record<string, string>;
      await plantRaw('c.users', 'u2', JSON.stringify({ ...two, apiKey: one.apiKey }));
      await expectCode(users.get('u2'), 'DECRYPT_FAILED');
      await plantRaw('c.users', 'u1', JSON.stringify({ ...one, token: one.apiKey }));
      await expectCode(users.get('u1'), 'DECRYPT_FAILED');
      await plantRaw('c.users', 'u3', JSON.stringify({ id: 'u3', apiKey: 'plain text' }));
      const plain = await expectCode(users.get('u3'), 'DECRYPT_FAILED');
      expect(plain.hint).toContain('rotateKeys');
      await expectCode(users.query({}), 'DECRYPT_FAILED');
    });

    it('with integrity mac, refuses records changed, swapped, moved or given another expiry', async () => {
      await h.dispose();
      h = await open(K1, 'mac');
      const kv = h.store.kv('app');
      const docs = h.store.collection('docs');
      await kv.set('a', { role: 'user' });
      await kv.set('b', { role: 'admin' });
      await kv.set('t', 'x', { ttl: 60_000 });
      await docs.insert({ id: 'd1', n: 1 });
      await docs.insert({ id: 'd2', n: 2 });
      await docs.insert({ id: 'd3' });
      expect(await kv.get('a')).toEqual({ role: 'user' });
      expect(await docs.query({ n: { $gte: 1 } })).toHaveLength(2);
      expect((await h.store.verify()).ok).toBe(true);
      const a = (await raw('kv.app', 'a'))!;
      const b = (await raw('kv.app', 'b'))!;
      const t = (await raw('kv.app', 't'))!;
      const d1 = (await raw('c.docs', 'd1'))!;
      await plantRaw('kv.app', 'a', b.value); // swapped
      await plantRaw('kv.app', 'b', b.value.replace('admin', 'owner')); // changed
      await plantRaw('kv.app', 't', t.value, null); // expiry removed
      await plantRaw('c.docs', 'd2', d1.value); // moved within the space
      await plantRaw('kv.other', 'a', a.value); // moved to another space
      await plantRaw('c.docs', 'd3', '{"id":"d3"}'); // MAC stripped
      for (const [space, key] of [
        ['app', 'a'],
        ['app', 'b'],
        ['app', 't'],
        ['other', 'a'],
      ] as const) {
        await expectCode(h.store.kv(space).get(key), 'INTEGRITY');
      }
      await expectCode(docs.get('d2'), 'INTEGRITY');
      await expectCode(docs.get('d3'), 'INTEGRITY');
      expect(await docs.get('d1')).toEqual({ id: 'd1', n: 1 });
      const report = await h.store.verify();
      expect(report.ok).toBe(false);
      expect(report.issues.map((i) => `${i.code} ${i.space} ${i.key}`).sort()).toEqual(
        [
          'INTEGRITY c.docs d2',
          'INTEGRITY c.docs d3',
          'INTEGRITY kv.app a',
          'INTEGRITY kv.app b',
          'INTEGRITY kv.app t',
          'INTEGRITY kv.other a',
        ].sort(),
      );
      await expectCode(docs.insert({ id: 'd9', '~mac': 'mine' }), 'BAD_INPUT');
    });

    it('rotates every ciphertext and MAC to the primary key, then retires the old key', async () => {
      await h.dispose();
      h = await open(K1, 'mac');
      const kv = h.store.kv('secrets', { encrypt: true });
      const users = h.store.collection('users', { encrypt: [{ path: 'email', lookup: true }, 'apiKey'] });
      for (let i = 0; i < 25; i++) {
        await kv.set(`s${i}`, `${CANARY}-${i}`);
        await users.insert({ id: `u${i}`, email: `${i}@x.io`, apiKey: `key-${i}` });
      }
      await h.store.kv('plain').set('p', 1);
      if (!rawDriver(h.store).capabilities.persistent) return;
      // The new key first: new writes use it, old ciphertexts still open.
      const store = await reopenWith(h, K2_K1);
      await store.kv('secrets').set('new', 'n');
      expect((await rawDriver(store).get('kv.secrets', 'new', h.clock.now))!.value).toContain('"enc1.k2.');
      expect(await store.collection('users').count({ email: '3@x.io' })).toBe(1);
      const versionBefore = (await store.kv('secrets').getEntry('s1'))!.version;
      const progress: number[] = [];
      const report = await store.rotateKeys({ batchSize: 7, onProgress: (p) => progress.push(p.checked) });
      expect(report.failed).toEqual([]);
      expect(report.rewritten).toBeGreaterThanOrEqual(51);
      expect(Object.keys(report.keysInUse)).toEqual(['k2']);
      expect(report.retired).toEqual(['k1']);
      expect(progress.at(-1)).toBe(report.checked);
      // A rotated record counts as a write.
      expect((await store.kv('secrets').getEntry('s1'))!.version).toBe(versionBefore + 1);
      const again = await store.rotateKeys();
      expect(again.rewritten).toBe(0);
      await store.close();
      const only = await reopenWith(h, `k2:${TEST_KEY_2}`);
      expect(await only.kv('secrets').get('s3')).toBe(`${CANARY}-3`);
      expect((await only.collection('users').query({ email: '7@x.io' }))[0]?.apiKey).toBe('key-7');
      expect((await only.verify()).ok).toBe(true);
      await only.close();
    });

    it('refuses at open a keyring that lacks a key still in use, or holds another key under its id', async () => {
      await h.store.kv('secrets', { encrypt: true }).set('a', CANARY);
      if (!rawDriver(h.store).capabilities.persistent) return;
      const missing = await expectCode(reopenWith(h, `k2:${TEST_KEY_2}`), 'DECRYPT_FAILED');
      expect(missing.message).toContain('"k1"');
      expect(missing.message).not.toContain(TEST_KEY_1);
      const wrong = await expectCode(reopenWith(h, `k1:${TEST_KEY_2}`), 'DECRYPT_FAILED');
      expect(wrong.message).not.toContain(TEST_KEY_2);
      // Without a keyring the data stays sealed: DECRYPT_FAILED, never ciphertext as a value.
      const bare = await reopenWith(h, null);
      await expectCode(bare.kv('secrets').get('a'), 'DECRYPT_FAILED');
      expect(() => bare.kv('new', { encrypt: true })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
      await bare.close();
      const back = await reopenWith(h, K1);
      expect(await back.kv('secrets').get('a')).toBe(CANARY);
      await back.close();
    });

    it('keeps no opened values with cacheSize 0, and refuses a cacheSize that is not a count', async () => {
      for (const cacheSize of [-1, 1.5, '10', 1e9]) {
        await expectCode(makeHarness(factory, { encryption: { keys: K1, cacheSize: cacheSize as number } }), 'BAD_INPUT');
      }
      await h.dispose();
      h = await makeHarness(factory, { encryption: { keys: K1, cacheSize: 0 } });
      const kv = h.store.kv('secrets', { encrypt: true });
      await kv.set('a', CANARY);
      expect(await kv.get('a')).toBe(CANARY);
      expect(await kv.get('a')).toBe(CANARY);
    });

    it("a store's own driver stack handed to openStore keeps its encryption", async () => {
      const { openStore } = await import('../store.js');
      await h.store.kv('secrets', { encrypt: true }).set('a', CANARY);
      const second = await openStore({ driver: h.store.driver, clock: h.clock.fn, sweepInterval: false });
      expect(await second.kv('secrets').get('a')).toBe(CANARY);
      await second.kv('more', { encrypt: true }).set('b', CANARY);
      expect((await rawDriver(h.store).get('kv.more', 'b', h.clock.now))!.value).not.toContain('canary');
    });

    it('refuses a store whose integrity mode was switched off in its encryption record', async () => {
      await h.dispose();
      h = await open(K1, 'mac');
      await h.store.kv('app').set('a', 1);
      if (!rawDriver(h.store).capabilities.persistent) return;
      const state = (await rawDriver(h.store).get('meta.crypto', 'state', h.clock.now))!;
      await h.store.close();
      const forged = state.value.replace('"integrity":"mac"', '"integrity":"checksum"');
      expect(forged).not.toBe(state.value);
      const driver = await h.factory(h.location);
      await driver.batch([{ type: 'put', space: 'meta.crypto', key: 'state', value: forged, expiresAt: null }], h.clock.now);
      await driver.close();
      await expectCode(reopenWith(h, K1), 'CORRUPT');
    });

    it('encrypts values written before encrypt was declared only when asked (protectExisting)', async () => {
      await h.store.kv('legacy').set('token', CANARY);
      await h.store.collection('people').insert({ id: 'p1', ssn: '123' });
      if (!rawDriver(h.store).capabilities.persistent) return;
      const store = await reopenWith(h, K1);
      const kv = store.kv('legacy', { encrypt: true });
      const people = store.collection('people', { encrypt: ['ssn'] });
      await expectCode(kv.get('token'), 'DECRYPT_FAILED');
      const refused = await store.rotateKeys();
      expect(refused.failed.map((f) => f.key).sort()).toEqual(['p1', 'token']);
      const done = await store.rotateKeys({ protectExisting: true });
      expect(done.failed).toEqual([]);
      expect(await kv.get('token')).toBe(CANARY);
      expect((await people.get('p1'))!.ssn).toBe('123');
      expect((await rawDriver(store).get('kv.legacy', 'token', h.clock.now))!.value).not.toContain('canary');
      await store.close();
    });
  });
}

/** Closes the harness store and opens the same location with another keyring (null: none). */
async function reopenWith(h: Harness, keys: string | null): Promise<Store> {
  if (!h.store.closed) await h.store.close();
  const { openStore } = await import('../store.js');
  return openStore({
    driver: await h.factory(h.location),
    clock: h.clock.fn,
    sweepInterval: false,
    ...(keys === null ? {} : { encryption: { keys } }),
  });
}
