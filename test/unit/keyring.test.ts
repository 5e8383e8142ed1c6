// Every form a keyring can be given in, every way it can be given wrong, and the promise that
// no error (message, hint, JSON or util.inspect) ever carries key material. Key commitment is
// checked through the store and on the Sealer directly, including a ciphertext crafted to pass
// AES-GCM under two keys at once (GCM alone is not key-committing).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { openStore, StrataError, type OpenStoreOptions, type Store } from '../../src/index.js';
import { Sealer } from '../../src/crypto/aead.js';
import { CRYPTO_SPACE } from '../../src/crypto/state.js';
import { rawDriver } from '../../src/testing/encryption-suite.js';

// Distinct, recognisable test keys (never use fixed keys in an app).
const KEY1 = Buffer.alloc(32, 0x11);
const KEY2 = Buffer.alloc(32, 0x22);
const KEY3 = Buffer.alloc(32, 0x33);
const B64_1 = KEY1.toString('base64');
const B64_2 = KEY2.toString('base64');
const PASSPHRASE = 'correct horse battery staple 42';

let dir: string;
let previousUmask: number;
const stores: Store[] = [];

beforeEach(() => {
  previousUmask = process.umask(0o022);
  dir = mkdtempSync(join(tmpdir(), 'strata-keyring-'));
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
  process.umask(previousUmask);
});

const dbUrl = (name = 'db.sqlite') => `sqlite:${join(dir, name)}`;

async function open(encryption: unknown, url = dbUrl()): Promise<Store> {
  const store = await openStore({ url, sweepInterval: false, encryption } as OpenStoreOptions);
  stores.push(store);
  return store;
}

async function close(store: Store): Promise<void> {
  await store.close();
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

/** Every textual form of `secret` that would betray it. */
function forms(secret: Buffer | string): string[] {
  if (typeof secret === 'string') return [secret, JSON.stringify(secret).slice(1, -1)];
  const hex = secret.toString('hex');
  return [
    secret.toString('base64'),
    secret.toString('base64url'),
    hex,
    // How util.inspect prints a Buffer: `<Buffer 11 11 11 ...`.
    hex.slice(0, 24).replace(/(..)(?!$)/g, '$1 '),
  ];
}

/** The message, hint, JSON and full inspection of `error` (cause chain included) hold none of `secrets`. */
function expectNoSecret(error: unknown, secrets: ReadonlyArray<Buffer | string>): void {
  const e = error as StrataError;
  const texts = [
    e.message,
    e.hint ?? '',
    JSON.stringify(e),
    JSON.stringify(e.details ?? {}),
    inspect(e, { depth: Infinity, showHidden: true }),
    String(e.stack),
  ];
  for (const secret of secrets) {
    for (const form of forms(secret)) {
      if (form.length < 6) continue;
      for (const text of texts) expect(text.includes(form), `error text holds a form of a secret: ${text}`).toBe(false);
    }
  }
}

/** What is really stored (below the encryption layer) for one record. */
async function stored(store: Store, space: string, key: string): Promise<string> {
  const record = await rawDriver(store).get(space, key, Date.now());
  if (record === null) throw new Error(`no raw record ${space} ${key}`);
  return record.value;
}

describe('keyring forms', () => {
  it('reads the string form with spaces and newlines; the first key is primary', async () => {
    const store = await open({ keys: `k1:${B64_1}` });
    await store.kv('s', { encrypt: true }).set('old', 'one');
    await close(store);

    const both = await open({ keys: `\n  k2: ${B64_2} ,\n\tk1:${B64_1}  \n,\n` });
    const kv = both.kv('s', { encrypt: true });
    expect(await kv.get('old')).toBe('one');
    await kv.set('new', 'two');
    expect(await stored(both, 'kv.s', 'new')).toMatch(/^"enc1\.k2\./);
    expect(await stored(both, 'kv.s', 'old')).toMatch(/^"enc1\.k1\./);
    await close(both);

    // Newlines alone separate entries too (a key file's usual layout), \r\n included.
    const lines = await open({ keys: `k2:${B64_2}\r\nk1:${B64_1}\r\n` });
    expect(await lines.kv('s').get('new')).toBe('two');
    expect(await lines.kv('s').get('old')).toBe('one');
  });

  it('reads the list form with Buffer, Uint8Array and base64 keys, interchangeably with the string form', async () => {
    const first = await open({ keys: [{ id: 'k1', key: KEY1 }] });
    await first.kv('s', { encrypt: true }).set('a', { n: 1 });
    await close(first);
    const list = await open({
      keys: [
        { id: 'k2', key: new Uint8Array(KEY2) },
        { id: 'k1', key: B64_1 },
      ],
    });
    expect(await list.kv('s').get('a')).toEqual({ n: 1 });
    await list.kv('s').set('b', 2);
    expect(await stored(list, 'kv.s', 'b')).toMatch(/^"enc1\.k2\./);
    await close(list);
    const text = await open({ keys: `k2:${B64_2},k1:${KEY1.toString('base64url')}` });
    expect(await text.kv('s').get('a')).toEqual({ n: 1 });
    expect(await text.kv('s').get('b')).toBe(2);
  });

  it('derives a key from a passphrase with a salt kept in the store; another passphrase is DECRYPT_FAILED', async () => {
    const store = await open({ keys: { passphrase: PASSPHRASE } });
    await store.kv('s', { encrypt: true }).set('a', 'secret value');
    expect(await stored(store, 'kv.s', 'a')).toMatch(/^"enc1\.p1\./);
    const state = JSON.parse(await stored(store, CRYPTO_SPACE, 'state')) as { salt: string | null };
    expect(Buffer.from(state.salt ?? '', 'base64').length).toBeGreaterThanOrEqual(16);
    for (const form of forms(PASSPHRASE)) expect(JSON.stringify(state)).not.toContain(form);
    const stats = await store.stats();
    for (const form of forms(PASSPHRASE)) expect(JSON.stringify(stats)).not.toContain(form);
    await close(store);

    const again = await open({ keys: { passphrase: PASSPHRASE } });
    expect(await again.kv('s').get('a')).toBe('secret value');
    await close(again);

    const other = 'correct horse battery stapler';
    const wrong = await failure(open({ keys: { passphrase: other } }), 'DECRYPT_FAILED');
    expect(wrong.message).toContain('"p1"');
    expectNoSecret(wrong, [other, PASSPHRASE]);
    // The same passphrase with a salt of its own derives another key: refused as well.
    const salted = await failure(
      open({ keys: { passphrase: PASSPHRASE, salt: randomBytes(16).toString('base64') } }),
      'DECRYPT_FAILED',
    );
    expectNoSecret(salted, [PASSPHRASE]);
  });

  it('uses a given salt and id, storing no salt; reopening needs both again', async () => {
    const salt = randomBytes(16).toString('base64');
    const store = await open({ keys: { passphrase: PASSPHRASE, salt, id: 'pw-2026' } });
    await store.collection('users', { encrypt: ['token'] }).insert({ id: 'u1', token: 't-1' });
    expect(await stored(store, 'c.users', 'u1')).toContain('"enc1.pw-2026.');
    const state = JSON.parse(await stored(store, CRYPTO_SPACE, 'state')) as { salt: string | null };
    expect(state.salt).toBeNull();
    await close(store);
    const again = await open({ keys: { passphrase: PASSPHRASE, salt, id: 'pw-2026' } });
    expect((await again.collection('users').get('u1'))?.token).toBe('t-1');
    await close(again);
    const noSalt = await failure(open({ keys: { passphrase: PASSPHRASE, id: 'pw-2026' } }), 'DECRYPT_FAILED');
    expect(noSalt.message).toContain('salt');
    expectNoSecret(noSalt, [PASSPHRASE, salt]);
  });

  it('reads a key file of mode 0600 and refuses one other users can read, or a missing one', async () => {
    const path = join(dir, 'keys.txt');
    writeFileSync(path, `k2:${B64_2}\nk1:${B64_1}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
    const store = await open({ keyFile: path });
    await store.kv('s', { encrypt: true }).set('a', 'from key file');
    expect(await stored(store, 'kv.s', 'a')).toMatch(/^"enc1\.k2\./);
    await close(store);

    for (const mode of [0o644, 0o640, 0o604]) {
      chmodSync(path, mode);
      const open644 = await failure(open({ keyFile: path }), 'BAD_INPUT');
      expect(open644.hint).toBe(`restrict it: chmod 600 ${path}`);
      expectNoSecret(open644, [KEY1, KEY2]);
    }
    chmodSync(path, 0o400);
    const readOnly = await open({ keyFile: path });
    expect(await readOnly.kv('s').get('a')).toBe('from key file');
    await close(readOnly);

    const missing = await failure(open({ keyFile: join(dir, 'nope.txt') }), 'BAD_INPUT');
    expect(missing.message).toContain('nope.txt');
    await failure(open({ keyFile: '' }), 'BAD_INPUT');
    await failure(open({ keyFile: 42 }), 'BAD_INPUT');

    // A key file whose content is wrong says so without echoing the content.
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, `k1:${B64_1.slice(0, -4)}\nk1:${B64_1}\n`, { mode: 0o600 });
    const badFile = await failure(open({ keyFile: bad }), 'BAD_INPUT');
    expectNoSecret(badFile, [KEY1, B64_1.slice(0, -4)]);
  });
});

describe('keyring refusals', () => {
  const KEY31 = Buffer.alloc(31, 0x44);
  const KEY33 = Buffer.alloc(33, 0x55);
  const HEX_KEY = Buffer.alloc(32, 0x66).toString('hex'); // a common mistake: hex, not base64
  const NOT_B64 = 'this is not base64 at all!';
  const SECRETS: ReadonlyArray<Buffer | string> = [KEY1, KEY2, KEY31, KEY33, HEX_KEY, NOT_B64, PASSPHRASE, 'short1!'];

  const cases: Array<[string, unknown]> = [
    ['empty string', { keys: '' }],
    ['only separators', { keys: ' ,\n , ' }],
    ['empty list', { keys: [] }],
    ['no keys at all', {}],
    ['null keys', { keys: null }],
    ['a number', { keys: 42 }],
    ['duplicate ids (string)', { keys: `k1:${B64_1},k1:${B64_2}` }],
    [
      'duplicate ids (list)',
      {
        keys: [
          { id: 'k1', key: KEY1 },
          { id: 'k1', key: KEY2 },
        ],
      },
    ],
    ['id with a dot', { keys: `k.1:${B64_1}` }],
    ['id with a space', { keys: [{ id: 'k 1', key: KEY1 }] }],
    ['empty id', { keys: `:${B64_1}` }],
    ['id too long', { keys: [{ id: 'k'.repeat(33), key: KEY1 }] }],
    ['non-ASCII id', { keys: [{ id: 'kä', key: KEY1 }] }],
    ['id not a string', { keys: [{ id: 1, key: KEY1 }] }],
    ['no id (string)', { keys: B64_1 }],
    ['31-byte key (base64)', { keys: `k1:${KEY31.toString('base64')}` }],
    ['33-byte key (base64)', { keys: `k1:${KEY33.toString('base64')}` }],
    ['31-byte key (Buffer)', { keys: [{ id: 'k1', key: KEY31 }] }],
    ['33-byte key (Buffer)', { keys: [{ id: 'k1', key: KEY33 }] }],
    ['hex key', { keys: `k1:${HEX_KEY}` }],
    ['non-base64 key', { keys: `k1:${NOT_B64}` }],
    ['non-base64 key (list)', { keys: [{ id: 'k1', key: NOT_B64 }] }],
    ['key of another type', { keys: [{ id: 'k1', key: 12345 }] }],
    ['entry not an object', { keys: [`k1:${B64_1}`] }],
    ['unknown option', { keys: `k1:${B64_1}`, integrty: 'mac' }],
    ['unknown option in a list entry', { keys: [{ id: 'k1', key: KEY1, primary: true }] }],
    ['unknown option in passphrase', { keys: { passphrase: PASSPHRASE, sault: 'x' } }],
    ['keys and keyFile together', { keys: `k1:${B64_1}`, keyFile: '/etc/hostname' }],
    ['bad integrity', { keys: `k1:${B64_1}`, integrity: 'hmac' }],
    ['short passphrase', { keys: { passphrase: 'short1!' } }],
    ['passphrase not a string', { keys: { passphrase: 12345678 } }],
    ['short salt', { keys: { passphrase: PASSPHRASE, salt: Buffer.alloc(8, 1).toString('base64') } }],
    ['bad passphrase id', { keys: { passphrase: PASSPHRASE, id: 'p 1' } }],
    ['encryption not an object', 'k1'],
  ];

  it.each(cases)('%s is BAD_INPUT naming no key material', async (_name, encryption) => {
    const error = await failure(open(encryption, 'memory:'), 'BAD_INPUT');
    expect(error.message.length).toBeGreaterThan(10);
    expectNoSecret(error, SECRETS);
  });

  it('a refused keyring leaves no store behind', async () => {
    await failure(open({ keys: `k1:${KEY31.toString('base64')}` }), 'BAD_INPUT');
    // The options are checked before the driver opens: nothing was created.
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('stats(), verify() and an inspected store hold no key material', async () => {
    const store = await open({ keys: `k2:${B64_2},k1:${B64_1}`, integrity: 'mac' });
    await store.kv('s', { encrypt: true }).set('a', 1);
    await store.collection('c', { encrypt: [{ path: 'e', lookup: true }] }).insert({ id: 'x', e: 'e@x.io' });
    const texts = [
      JSON.stringify(await store.stats()),
      JSON.stringify(await store.verify()),
      inspect(store, { depth: Infinity, showHidden: true }),
      inspect(store.driver, { depth: Infinity, showHidden: true }),
    ];
    for (const text of texts)
      for (const secret of [KEY1, KEY2]) for (const form of forms(secret)) expect(text).not.toContain(form);
  });
});

describe('key commitment', () => {
  const storeId = 'AAAAAAAAAAAAAAAAAAAAAA';
  const space = 'kv.s';
  const field = '';
  const ring = (id: string, key: Buffer) => ({ primary: id, keys: new Map([[id, key]]) });

  it('a ciphertext sealed under one key does not open under another key with the same id', () => {
    const a = new Sealer(ring('k1', KEY1), storeId);
    const b = new Sealer(ring('k1', KEY3), storeId);
    const sealed = a.seal(space, 'rec', field, '"the secret"');
    expect(a.open(space, 'rec', field, sealed)).toBe('"the secret"');
    let error: unknown;
    try {
      b.open(space, 'rec', field, sealed);
    } catch (e) {
      error = e;
    }
    expect(StrataError.is(error, 'DECRYPT_FAILED')).toBe(true);
    expect((error as StrataError).message).not.toContain('the secret');
    expectNoSecret(error, [KEY1, KEY3]);
    // Under another store id (another store with the same key), it does not open either.
    expect(() => new Sealer(ring('k1', KEY1), 'BBBBBBBBBBBBBBBBBBBBBB').open(space, 'rec', field, sealed)).toThrow(
      expect.objectContaining({ code: 'DECRYPT_FAILED' }),
    );
  });

  it("refuses at read a ciphertext under a key that only passes the store's key check (forged check value)", async () => {
    const store = await open({ keys: `k1:${B64_1}` });
    await store.kv('s', { encrypt: true }).set('a', 'sealed under key one');
    const raw = rawDriver(store);
    const record = (await raw.get(CRYPTO_SPACE, 'state', Date.now()))!;
    const state = JSON.parse(record.value) as { storeId: string; keys: Record<string, string> };
    await close(store);
    // Someone who can write the files replaces the check value with that of another key...
    const forged = { ...state, keys: { k1: new Sealer(ring('k1', KEY3), state.storeId).keyCheck('k1', 'checksum') } };
    const { sqliteDriver } = await import('../../src/drivers/sqlite.js');
    const driver = sqliteDriver({ path: join(dir, 'db.sqlite') });
    await driver.batch(
      [{ type: 'put', space: CRYPTO_SPACE, key: 'state', value: JSON.stringify(forged), expiresAt: null }],
      Date.now(),
      { results: false },
    );
    await driver.close();
    // ...so the other key gets past open, but no ciphertext opens under it.
    const other = await open({ keys: `k1:${KEY3.toString('base64')}` });
    const error = await failure(other.kv('s').get('a'), 'DECRYPT_FAILED');
    expect(error.message).not.toContain('sealed under key one');
    expectNoSecret(error, [KEY1, KEY3]);
  });

  it('a ciphertext crafted to pass AES-GCM under two keys opens under only the key its commitment names', () => {
    const a = new Sealer(ring('k1', KEY1), storeId);
    const b = new Sealer(ring('k1', KEY3), storeId);
    const scope = `${space}\u0000${field}`;
    const subA = a.derive('k1', 'enc', scope);
    const subB = b.derive('k1', 'enc', scope);
    const aad = Buffer.from(`${space.length}:3:${field.length}:${space}\u0000rec\u0000${field}`, 'utf8');
    // Our reading of the associated data matches the Sealer's: a real ciphertext opens with it.
    const real = Buffer.from(a.seal(space, 'rec', field, 'x').split('.')[2]!, 'base64url');
    expect(gcmOpen(subA, real.subarray(0, 12), aad, real.subarray(44, -16), real.subarray(-16))).not.toBeNull();
    const commitA = real.subarray(12, 44);
    const commitB = Buffer.from(b.seal(space, 'rec', field, 'x').split('.')[2]!, 'base64url').subarray(12, 44);

    const nonce = randomBytes(12);
    const { ciphertext, tag } = collidingCiphertext(subA, subB, nonce, aad);
    // Plain GCM accepts it under both keys: this is what the commitment is there for.
    const underA = gcmOpen(subA, nonce, aad, ciphertext, tag);
    const underB = gcmOpen(subB, nonce, aad, ciphertext, tag);
    expect(underA).not.toBeNull();
    expect(underB).not.toBeNull();
    expect(underA!.equals(underB!)).toBe(false);

    const envelope = (commit: Buffer) => `enc1.k1.${Buffer.concat([nonce, commit, ciphertext, tag]).toString('base64url')}`;
    const opens = (sealer: Sealer, text: string) => {
      try {
        sealer.open(space, 'rec', field, text);
        return 'opened';
      } catch (error) {
        return StrataError.is(error) ? error.code : 'threw';
      }
    };
    expect([opens(a, envelope(commitA)), opens(b, envelope(commitA))]).toEqual(['opened', 'DECRYPT_FAILED']);
    expect([opens(a, envelope(commitB)), opens(b, envelope(commitB))]).toEqual(['DECRYPT_FAILED', 'opened']);
  });
});

// --- AES-GCM by hand, just enough to build a two-key ciphertext (NIST SP 800-38D) ---

const R = 0xe1n << 120n;
const ONE = 1n << 127n; // the field's 1 in GCM's reflected bit order

function gmul(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let i = 127n; i >= 0n; i--) {
    if ((x >> i) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}

function gpow(a: bigint, e: bigint): bigint {
  let result = ONE;
  let base = a;
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) result = gmul(result, base);
    base = gmul(base, base);
  }
  return result;
}

const ginv = (a: bigint): bigint => gpow(a, (1n << 128n) - 2n);
const toInt = (block: Buffer): bigint => BigInt(`0x${block.toString('hex').padStart(32, '0')}`);
const toBlock = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(32, '0'), 'hex');

function aesBlock(key: Buffer, block: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-ecb', key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

function blocks(data: Buffer): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < data.length; i += 16) out.push(toInt(Buffer.concat([data.subarray(i, i + 16)], 16)));
  return out;
}

function ghash(h: bigint, xs: readonly bigint[]): bigint {
  let y = 0n;
  for (const x of xs) y = gmul(y ^ x, h);
  return y;
}

/** Two blocks of ciphertext and one tag that AES-256-GCM accepts under both keys. */
function collidingCiphertext(k1: Buffer, k2: Buffer, nonce: Buffer, aad: Buffer): { ciphertext: Buffer; tag: Buffer } {
  const first = randomBytes(16);
  const lengths = (BigInt(aad.length * 8) << 64n) | BigInt(32 * 8);
  const xs = [...blocks(aad), toInt(first), 0n, lengths];
  const free = xs.length - 2; // index of the second ciphertext block, solved for below
  const j0 = toInt(aesBlock(k1, Buffer.concat([nonce, Buffer.from([0, 0, 0, 1])])));
  const j0b = toInt(aesBlock(k2, Buffer.concat([nonce, Buffer.from([0, 0, 0, 1])])));
  const h1 = toInt(aesBlock(k1, Buffer.alloc(16)));
  const h2 = toInt(aesBlock(k2, Buffer.alloc(16)));
  const power = BigInt(xs.length - free);
  // tag_k = ghash_k(free = 0) + free * H_k^power + E_k(J0); make tag_1 = tag_2.
  const constant = ghash(h1, xs) ^ ghash(h2, xs) ^ j0 ^ j0b;
  const solved = gmul(constant, ginv(gpow(h1, power) ^ gpow(h2, power)));
  xs[free] = solved;
  const tag = toBlock(ghash(h1, xs) ^ j0);
  expect(toBlock(ghash(h2, xs) ^ j0b).equals(tag)).toBe(true);
  return { ciphertext: Buffer.concat([first, toBlock(solved)]), tag };
}

function gcmOpen(key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | null {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return null;
  }
}
