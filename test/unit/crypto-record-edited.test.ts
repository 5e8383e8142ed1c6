// The encryption record (meta.crypto) must agree with the data (docs/encryption.md, "The
// keyring" and "integrity: 'mac'"): one edited to say integrity 'checksum', or to list no key
// checks (an edit that needs no key), while records carry MACs or spaces are declared
// encrypted, is CORRUPT at open, with or without a keyring, and the open writes nothing. A
// MAC wrapper is never handed out as a value, and a forged unsigned record never reads.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tableName } from '../../src/drivers/sqlite-spaces.js';
import { rawDriver } from '../../src/testing/encryption-suite.js';
import { failure, KEY1, openAt, tempDir } from './encrypted-store-fixtures.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const file = (): string => join(t.dir, 'db.sqlite');
const url = (): string => `sqlite:${file()}`;

/** The stored encryption record, read from the SQLite file itself. */
function storedState(): string {
  const db = new Database(file(), { readonly: true });
  try {
    return (db.prepare(`SELECT value FROM ${tableName('meta.crypto')} WHERE key = 'state'`).get() as { value: string }).value;
  } finally {
    db.close();
  }
}

/** Rewrites meta.crypto as someone without the key can (`edit`), and plants an unsigned record in kv.p. */
async function tamper(integrity: 'checksum' | 'mac', edit: (state: Record<string, unknown>) => void): Promise<void> {
  const store = await openAt(url(), { keys: `k1:${KEY1}`, integrity });
  await store.kv('p').set('a', 'plain');
  await store.collection('docs').insert({ id: 'd1', n: 1 } as never);
  await store.kv('v', { encrypt: true }).set('s', 'secret');
  const raw = rawDriver(store);
  const state = JSON.parse((await raw.get('meta.crypto', 'state', Date.now()))!.value) as Record<string, unknown>;
  edit(state);
  await raw.batch(
    [
      { type: 'put', space: 'meta.crypto', key: 'state', value: JSON.stringify(state), expiresAt: null },
      { type: 'put', space: 'kv.p', key: 'forged', value: '"forged"', expiresAt: null },
    ],
    Date.now(),
    { results: false },
  );
  await store.close();
}

describe('an encryption record that no longer matches the data', () => {
  it("edited to integrity 'checksum' with no key checks, while records carry MACs: CORRUPT at open, nothing written", async () => {
    await tamper('mac', (state) => {
      state.integrity = 'checksum';
      state.keys = {};
    });
    const before = storedState();
    const error = await failure(openAt(url(), { keys: `k1:${KEY1}` }), 'CORRUPT');
    expect(error.message).toMatch(/meta\.crypto/);
    expect(error.hint).toMatch(/restore the store from a backup/);
    expect(error.details).toEqual({ space: 'meta.crypto', key: 'state' });
    expect(storedState()).toBe(before);
  });

  it("edited to integrity 'checksum' with no key checks: opened without a keyring, CORRUPT too", async () => {
    await tamper('mac', (state) => {
      state.integrity = 'checksum';
      state.keys = {};
    });
    await failure(openAt(url()), 'CORRUPT');
  });

  it("edited to list no key checks: CORRUPT even when the open passes integrity 'mac'", async () => {
    await tamper('mac', (state) => {
      state.keys = {};
    });
    await failure(openAt(url(), { keys: `k1:${KEY1}`, integrity: 'mac' }), 'CORRUPT');
  });

  it('edited to list no key checks in a checksum store whose spaces are encrypted: CORRUPT (any key would pass)', async () => {
    await tamper('checksum', (state) => {
      state.keys = {};
    });
    const other = Buffer.alloc(32, 0x33).toString('base64');
    const error = await failure(openAt(url(), { keys: `k1:${other}` }), 'CORRUPT');
    expect(error.message).toMatch(/lists no keys/);
  });

  it('a record that lists no key checks in a store with nothing encrypted or signed opens (there is nothing to protect)', async () => {
    const first = await openAt(url(), { keys: `k1:${KEY1}` });
    await first.kv('p').set('a', 'plain');
    const raw = rawDriver(first);
    const state = JSON.parse((await raw.get('meta.crypto', 'state', Date.now()))!.value) as Record<string, unknown>;
    state.keys = {};
    await raw.batch(
      [{ type: 'put', space: 'meta.crypto', key: 'state', value: JSON.stringify(state), expiresAt: null }],
      Date.now(),
      {
        results: false,
      },
    );
    await first.close();
    const store = await openAt(url(), { keys: `k1:${KEY1}` });
    try {
      expect(await store.kv('p').get('a')).toBe('plain');
    } finally {
      await store.close();
    }
  });

  it("a genuine 'mac' store keeps checking MACs: the forged unsigned record is INTEGRITY, the genuine one reads as its value", async () => {
    await tamper('mac', () => {});
    const store = await openAt(url(), { keys: `k1:${KEY1}` });
    try {
      expect(await store.kv('p').get('a')).toBe('plain');
      expect(await store.collection('docs').get('d1')).toEqual({ id: 'd1', n: 1 });
      await failure(store.kv('p').get('forged'), 'INTEGRITY');
    } finally {
      await store.close();
    }
  });
});
