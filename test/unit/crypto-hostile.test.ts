// Hostile input and tampering against the encryption promises of docs/encryption.md that the
// keyring and suite tests did not reach: key ids that are names of Object.prototype members,
// non-base64 salts, a key file that is a directory, a deleted encryption record (which used
// to turn MAC checks off silently), malformed index lists on encrypted collections, "~mac"
// inside documents under integrity 'mac', a key id prefix swapped to another key of the ring,
// a ciphertext copied from another store with the same keys, and the documented limit that a
// rolled-back record is not detected; a rotation that meets a record failing the driver's
// checksum lists it in `failed` and goes on (it used to stop there, for good).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import Database from 'better-sqlite3';
import { openStore, StrataError, type OpenStoreOptions, type Store } from '../../src/index.js';
import { CRYPTO_SPACE } from '../../src/crypto/state.js';
import { rawDriver } from '../../src/testing/encryption-suite.js';
import { tableName } from '../../src/drivers/sqlite-spaces.js';

const KEY1 = Buffer.alloc(32, 0x11);
const KEY2 = Buffer.alloc(32, 0x22);
const B64_1 = KEY1.toString('base64');
const B64_2 = KEY2.toString('base64');

let dir: string;
const stores: Store[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-crypto-hostile-'));
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const dbUrl = (name = 'db.sqlite') => `sqlite:${join(dir, name)}`;

async function open(encryption: unknown, url = dbUrl()): Promise<Store> {
  const options = { url, sweepInterval: false, ...(encryption === undefined ? {} : { encryption }) } as OpenStoreOptions;
  const store = await openStore(options);
  stores.push(store);
  return store;
}

async function failure(promise: Promise<unknown>, code: string): Promise<StrataError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(StrataError);
    expect((error as StrataError).code, (error as Error).message).toBe(code);
    return error as StrataError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

function expectNoKey(error: unknown): void {
  const text = [inspect(error, { depth: Infinity, showHidden: true }), JSON.stringify(error)].join('\n');
  for (const key of [KEY1, KEY2]) {
    for (const form of [key.toString('base64'), key.toString('base64url'), key.toString('hex')]) {
      expect(text).not.toContain(form);
    }
  }
}

const plantRaw = (store: Store, space: string, key: string, value: string) =>
  rawDriver(store).batch([{ type: 'put', space, key, value, expiresAt: null }], Date.now(), { results: false });

describe('key ids that name Object.prototype members', () => {
  it.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
    '"%s": another key under it, or a keyring without it, is refused at open',
    async (id) => {
      const store = await open({ keys: `${id}:${B64_1}` });
      await store.kv('s', { encrypt: true }).set('a', 'secret');
      await store.close();

      const wrong = await failure(open({ keys: `${id}:${B64_2}` }), 'DECRYPT_FAILED');
      expect(wrong.message).toContain(`"${id}"`);
      expectNoKey(wrong);
      const missing = await failure(open({ keys: `k2:${B64_2}` }), 'DECRYPT_FAILED');
      expect(missing.message).toContain(`"${id}"`);
      expect(missing.hint).toContain(`add key "${id}" back`);

      // Rotating away from it retires it, and only then can it leave the keyring.
      const both = await open({ keys: `k2:${B64_2},${id}:${B64_1}` });
      expect(await both.kv('s').get('a')).toBe('secret');
      const report = await both.rotateKeys();
      expect(report.keysInUse).toEqual({ k2: 1 });
      expect(report.retired).toEqual([id]);
      await both.close();
      const only2 = await open({ keys: `k2:${B64_2}` });
      expect(await only2.kv('s').get('a')).toBe('secret');
    },
  );

  it('"__proto__" is BAD_INPUT in every form (the store could not remember its check value)', async () => {
    for (const encryption of [
      { keys: `__proto__:${B64_1}` },
      { keys: [{ id: '__proto__', key: KEY1 }] },
      { keys: { passphrase: 'correct horse battery staple', id: '__proto__' } },
    ]) {
      const error = await failure(open(encryption, 'memory:'), 'BAD_INPUT');
      expect(error.message).toContain('__proto__');
      expectNoKey(error);
    }
  });
});

describe('passphrase salt and key file', () => {
  it('a salt that is not base64 is BAD_INPUT, not taken as some other salt', async () => {
    for (const salt of [
      'not base64 at all, but long enough to decode!',
      'AAAAAAAAAAAAAAAAAAAAAA==\u00e9',
      `${'A'.repeat(30)} ${'A'.repeat(10)}`,
    ]) {
      const error = await failure(open({ keys: { passphrase: 'correct horse battery staple', salt } }, 'memory:'), 'BAD_INPUT');
      expect(error.message).toContain('salt');
    }
    // base64url and unpadded base64 are base64 too.
    const salt = Buffer.alloc(18, 0xfb).toString('base64url');
    const store = await open({ keys: { passphrase: 'correct horse battery staple', salt } }, 'memory:');
    await store.kv('s', { encrypt: true }).set('a', 1);
  });

  it('a key file that is a directory is BAD_INPUT naming the option', async () => {
    const keys = join(dir, 'keys');
    mkdirSync(keys, { mode: 0o700 });
    const error = await failure(open({ keyFile: keys }), 'BAD_INPUT');
    expect(error.message).toContain('key file');
    expect(error.hint).toContain('keyFile');
  });
});

describe('a deleted encryption record', () => {
  async function signedStore(url: string): Promise<void> {
    const store = await open({ keys: `k1:${B64_1}`, integrity: 'mac' }, url);
    await store.kv('plain').set('role', 'user');
    await store.collection('docs').insert({ id: 'd1', role: 'user' });
    await rawDriver(store).batch([{ type: 'delete', space: CRYPTO_SPACE, key: 'state' }], Date.now(), { results: false });
    await store.close();
  }

  it.each(['sqlite', 'file'])(
    '%s: a signed store whose meta.crypto was deleted is CORRUPT at open, with or without keys',
    async (kind) => {
      const url = kind === 'sqlite' ? dbUrl('signed.db') : `file:${join(dir, 'signed')}`;
      await signedStore(url);
      const file = kind === 'sqlite' ? join(dir, 'signed.db') : undefined;
      const before = file === undefined ? null : readFileSync(file);
      for (const encryption of [{ keys: `k1:${B64_1}` }, undefined, { keys: `k1:${B64_1}`, integrity: 'mac' }]) {
        const error = await failure(open(encryption, url), 'CORRUPT');
        expect(error.message).toContain('meta.crypto');
        expect(error.hint).toContain('backup');
      }
      // Nothing was written: no new encryption record (with a new store id) replaced the lost one.
      if (file !== undefined) expect(readFileSync(file).equals(before!)).toBe(true);
    },
  );

  it('an encrypted store whose meta.crypto was deleted is CORRUPT, not a store handing out ciphertext', async () => {
    const store = await open({ keys: `k1:${B64_1}` });
    await store.kv('vault', { encrypt: true }).set('a', 'secret');
    await rawDriver(store).batch([{ type: 'delete', space: CRYPTO_SPACE, key: 'state' }], Date.now(), { results: false });
    await store.close();
    await failure(open(undefined), 'CORRUPT');
    await failure(open({ keys: `k1:${B64_1}` }), 'CORRUPT');
  });

  it('a plain store still opens with a keyring for the first time, and without one', async () => {
    const plain = await open(undefined);
    await plain.kv('app').set('a', { n: 1 });
    await plain.collection('docs').insert({ id: 'd1', note: '~mac' });
    await plain.close();
    const keyed = await open({ keys: `k1:${B64_1}`, integrity: 'mac' });
    await keyed.kv('vault', { encrypt: true }).set('b', 2);
    expect(await keyed.kv('vault').get('b')).toBe(2);
    await keyed.close();
  });
});

describe('encrypted collections: declarations and documents', () => {
  it('malformed indexes are BAD_INPUT, as on a collection without encryption', async () => {
    const store = await open({ keys: `k1:${B64_1}` }, 'memory:');
    for (const indexes of [[{ path: 'a' }], [5], 'a', [null]]) {
      expect(() => store.collection('users', { encrypt: ['secret'], indexes } as never)).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT' }),
      );
    }
    expect(await store.names()).toEqual({ kv: [], collections: [] });
  });

  it('integrity \'mac\' reserves only a top-level field named ~mac: the text "~mac" elsewhere round-trips', async () => {
    const store = await open({ keys: `k1:${B64_1}`, integrity: 'mac' });
    const docs = store.collection('docs', { encrypt: ['secret'] });
    const samples = [
      { id: 'a', note: '~mac' },
      { id: 'b', meta: { '~mac': 'nested' } },
      { id: 'c', tags: ['~mac', '"~mac"'] },
      { id: '~mac' },
      { id: 'e', secret: { '~mac': 1 } },
      { id: 'f', note: `,"~mac":"k1.${'A'.repeat(43)}"}` },
    ];
    for (const doc of samples) await docs.insert(doc);
    for (const doc of samples) expect(await docs.get(doc.id)).toEqual(doc);
    expect((await docs.query({ note: '~mac' })).map((d) => d.id)).toEqual(['a']);
    const error = await failure(docs.insert({ id: 'x', '~mac': 'mine' }), 'BAD_INPUT');
    expect(error.message).toContain('~mac');
    expect(await docs.count()).toBe(samples.length);
    expect((await store.verify()).ok).toBe(true);
  });

  it('every filter on a lookup field but equality and $in is BAD_INPUT; equality finds exactly its documents', async () => {
    const store = await open({ keys: `k1:${B64_1}` }, 'memory:');
    const users = store.collection('users', { encrypt: [{ path: 'email', lookup: true }, 'apiKey'], indexes: ['email'] });
    await users.insertMany([
      { id: 'u1', email: 'a@x.io', n: 1 },
      { id: 'u2', email: 'b@x.io', n: 2 },
      { id: 'u3', email: 'a@x.io', n: 3 },
      { id: 'u4', email: 7, n: 4 },
      { id: 'u5', email: '7', n: 5 },
    ]);
    const ids = async (filter: Record<string, unknown>) => (await users.query(filter)).map((d) => d.id).sort();
    expect(await ids({ email: 'a@x.io' })).toEqual(['u1', 'u3']);
    expect(await ids({ email: { $eq: 'b@x.io' } })).toEqual(['u2']);
    expect(await ids({ email: { $in: ['b@x.io', 7] } })).toEqual(['u2', 'u4']);
    expect(await ids({ email: '7' })).toEqual(['u5']);
    expect(await ids({ $and: [{ email: 'a@x.io' }, { n: { $gt: 1 } }] })).toEqual(['u3']);
    expect(await ids({ email: { $exists: true } })).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
    expect(await users.count({ email: 'a@x.io' })).toBe(2);
    for (const filter of [
      { email: { $ne: 'a@x.io' } },
      { email: { $nin: ['a@x.io'] } },
      { email: { $gt: 'a' } },
      { email: { $gte: 'a' } },
      { email: { $lt: 'z' } },
      { email: { $lte: 'z' } },
      { email: { $prefix: 'a' } },
      { email: { $size: 1 } },
      { email: null },
      { email: { $in: [null] } },
      { email: { $eq: { a: 1 } } },
      { 'email.$eq': 'a' },
      { 'email.$enc': { $exists: true } },
      { $or: [{ n: 1 }, { email: { $ne: 'a' } }] },
    ]) {
      await failure(users.query(filter), 'BAD_INPUT');
      await failure(users.count(filter), 'BAD_INPUT');
      await failure(users.deleteWhere(filter), 'BAD_INPUT');
    }
    await failure(users.query({}, { sort: { email: 1 } }), 'BAD_INPUT');
    expect(await users.count()).toBe(5);
  });
});

describe('ciphertexts moved by someone who can write the files', () => {
  it('a key id prefix changed to another key of the keyring is DECRYPT_FAILED', async () => {
    const store = await open({ keys: `k2:${B64_2},k1:${B64_1}` });
    const kv = store.kv('vault', { encrypt: true });
    await kv.set('a', 'secret-a');
    const users = store.collection('users', { encrypt: ['apiKey', { path: 'email', lookup: true }] });
    await users.insert({ id: 'u1', apiKey: 'key-1', email: 'a@x.io' });
    const sealed = (await rawDriver(store).get('kv.vault', 'a', Date.now()))!.value;
    expect(sealed).toMatch(/^"enc1\.k2\./);
    await plantRaw(store, 'kv.vault', 'a', sealed.replace('enc1.k2.', 'enc1.k1.'));
    const error = await failure(kv.get('a'), 'DECRYPT_FAILED');
    expect(error.message).not.toContain('secret-a');
    const doc = (await rawDriver(store).get('c.users', 'u1', Date.now()))!.value;
    await plantRaw(store, 'c.users', 'u1', doc.replaceAll('enc1.k2.', 'enc1.k1.'));
    await failure(users.get('u1'), 'DECRYPT_FAILED');
    const report = await store.verify();
    expect(report.issues.map((i) => `${i.code} ${i.space} ${i.key}`).sort()).toEqual([
      'INTEGRITY c.users u1',
      'INTEGRITY kv.vault a',
    ]);
  });

  it('a ciphertext copied from another store with the same keyring does not open (same space and key)', async () => {
    const one = await open({ keys: `k1:${B64_1}` }, dbUrl('one.db'));
    const two = await open({ keys: `k1:${B64_1}` }, dbUrl('two.db'));
    await one.kv('vault', { encrypt: true }).set('a', 'from-one');
    await two.kv('vault', { encrypt: true }).set('a', 'from-two');
    const copied = (await rawDriver(one).get('kv.vault', 'a', Date.now()))!.value;
    await plantRaw(two, 'kv.vault', 'a', copied);
    await failure(two.kv('vault').get('a'), 'DECRYPT_FAILED');
  });
});

describe("integrity 'mac' and rollback", () => {
  it('an older version of the same record put back is NOT detected (docs/encryption.md says so)', async () => {
    const store = await open({ keys: `k1:${B64_1}`, integrity: 'mac' });
    const kv = store.kv('app');
    await kv.set('role', 'admin');
    const old = (await rawDriver(store).get('kv.app', 'role', Date.now()))!.value;
    await kv.set('role', 'user');
    await plantRaw(store, 'kv.app', 'role', old);
    // A replay of that record's own earlier state carries a valid MAC: it reads back.
    expect(await kv.get('role')).toBe('admin');
    expect((await store.verify()).ok).toBe(true);
    // The same text under another key is refused.
    await plantRaw(store, 'kv.app', 'other', old);
    await failure(kv.get('other'), 'INTEGRITY');
  });
});

describe('logs and metrics', () => {
  it('hold no key material and no value of an encrypted space, through a refused open and a rotation', async () => {
    const lines: string[] = [];
    const log = (level: string) => (obj: unknown, msg?: string) =>
      lines.push(`${level} ${inspect(obj, { depth: 10 })} ${msg ?? ''}`);
    const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), isLevelEnabled: () => true };
    const url = dbUrl('logged.db');
    const options = { url, sweepInterval: false, logger, metrics: true } as const;
    let store = await openStore({ ...options, encryption: { keys: `k1:${B64_1}`, integrity: 'mac' } });
    const kv = store.kv('vault', { encrypt: true });
    await kv.set('a', 'plain-canary-value');
    await kv.get('missing');
    await failure(store.collection('c', { encrypt: ['x'] }).query({ x: 1 }), 'BAD_INPUT');
    await store.close();
    const refused = await failure(openStore({ ...options, encryption: { keys: `k1:${B64_2}` } }), 'DECRYPT_FAILED');
    lines.push(inspect(refused, { depth: 10 }));
    store = await openStore({ ...options, encryption: { keys: `k2:${B64_2},k1:${B64_1}` } });
    expect((await store.rotateKeys()).retired).toEqual(['k1']);
    lines.push(await store.metrics(), JSON.stringify(await store.stats()));
    await store.close();
    expect(lines.length).toBeGreaterThan(4);
    const text = lines.join('\n');
    expect(text).not.toContain('plain-canary-value');
    for (const key of [KEY1, KEY2]) {
      for (const form of [key.toString('base64'), key.toString('base64url'), key.toString('hex')])
        expect(text).not.toContain(form);
    }
  });
});

describe('rotateKeys over damaged records', () => {
  it('a record failing its sqlite checksum is listed in failed; the others rotate; k1 retires once it is removed', async () => {
    const url = dbUrl('damaged.db');
    let store = await open({ keys: `k1:${B64_1}` }, url);
    const kv = store.kv('vault', { encrypt: true });
    for (let i = 0; i < 30; i++) await kv.set(`k${String(i).padStart(2, '0')}`, `v${i}`);
    await store.close();
    const db = new Database(join(dir, 'damaged.db'));
    for (const key of ['k03', 'k04', 'k17']) {
      db.prepare(`UPDATE ${tableName('kv.vault')} SET value = replace(value, 'enc1.k1.', 'enc1.k1.A') WHERE key = ?`).run(key);
    }
    db.close();

    store = await open({ keys: `k2:${B64_2},k1:${B64_1}` }, url);
    const report = await store.rotateKeys({ batchSize: 5 });
    expect(report.failed.map((f) => `${f.code} ${f.space} ${f.key}`)).toEqual([
      'CORRUPT kv.vault k03',
      'CORRUPT kv.vault k04',
      'CORRUPT kv.vault k17',
    ]);
    expect(report.checked).toBe(30);
    expect(report.rewritten).toBe(27);
    expect(report.retired).toEqual([]);
    const vault = store.kv('vault');
    expect(await vault.get('k05')).toBe('v5');
    await failure(vault.get('k03'), 'CORRUPT');
    // The documented repair: delete the damaged records; then a rerun retires k1.
    for (const key of ['k03', 'k04', 'k17']) await vault.delete(key);
    const rerun = await store.rotateKeys();
    expect(rerun).toMatchObject({ failed: [], rewritten: 0, keysInUse: { k2: 27 }, retired: ['k1'] });
  });
});

describe('deleting a record that does not open', () => {
  it.each(['checksum', 'mac'] as const)(
    'integrity %s: an unconditional delete of a tampered record succeeds and says it existed',
    async (integrity) => {
      const store = await open({ keys: `k1:${B64_1}`, integrity });
      const vault = store.kv('vault', { encrypt: true });
      const docs = store.collection('docs', { encrypt: ['secret'] });
      await vault.set('a', 'secret-a');
      await vault.set('b', 'secret-b');
      await docs.insert({ id: 'd1', secret: 's' });
      const sealed = (await rawDriver(store).get('kv.vault', 'a', Date.now()))!.value;
      await plantRaw(store, 'kv.vault', 'a', sealed.replace(/.(.{4})$/, 'A$1'));
      await plantRaw(store, 'kv.vault', 'b', sealed); // another record's ciphertext
      const doc = (await rawDriver(store).get('c.docs', 'd1', Date.now()))!.value;
      await plantRaw(store, 'c.docs', 'd1', doc.replace('"id":"d1"', '"id":"d1","x":1'));
      await expect(vault.get('a')).rejects.toThrow(StrataError);
      expect(await vault.delete('a')).toBe(true);
      expect(await vault.deleteMany(['b', 'zz'])).toBe(1);
      expect(await docs.delete('d1')).toBe(true);
      expect(await vault.get('a')).toBeNull();
      expect(await rawDriver(store).get('kv.vault', 'b', Date.now())).toBeNull();
      expect(await docs.count()).toBe(0);
      expect((await store.verify()).ok).toBe(true);
    },
  );
});
