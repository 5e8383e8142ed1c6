// store.verify() opens every ciphertext (docs/encryption.md, "The format"): a record the
// driver finds damaged (CORRUPT under SQLite's checksum) is reported and stepped over, and
// every other ciphertext, in its own space and in the others, is still opened, so a ciphertext
// moved to another record is reported as INTEGRITY in the same report.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tableName } from '../../src/drivers/sqlite-spaces.js';
import { rawDriver } from '../../src/testing/encryption-suite.js';
import { KEY1, openAt, tempDir } from '../unit/encrypted-store-fixtures.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

/** kv.vault a and b (b then holding a's ciphertext, with a valid checksum), kv.other c, and `damaged` broken under its checksum. */
async function prepared(damaged: { space: string; key: string }) {
  const url = `sqlite:${join(t.dir, 'db.sqlite')}`;
  const store = await openAt(url, { keys: `k1:${KEY1}` });
  const vault = store.kv('vault', { encrypt: true });
  await vault.set('a', 'secret-a');
  await vault.set('b', 'secret-b');
  await vault.set('a2', 'secret-a2');
  await store.kv('other', { encrypt: true }).set('c', 'secret-c');
  const sealed = (await rawDriver(store).get('kv.vault', 'a', Date.now()))!.value;
  await rawDriver(store).batch([{ type: 'put', space: 'kv.vault', key: 'b', value: sealed, expiresAt: null }], Date.now(), {
    results: false,
  });
  await store.close();
  // As a disk error would: the stored text changes, its checksum does not.
  const db = new Database(join(t.dir, 'db.sqlite'));
  db.prepare(`UPDATE ${tableName(damaged.space)} SET value = replace(value, 'enc1.k1.', 'enc1.k1.A') WHERE key = ?`).run(
    damaged.key,
  );
  db.close();
  return openAt(url, { keys: `k1:${KEY1}` });
}

const found = (issues: Array<{ code: string; space?: string; key?: string }>): string[] =>
  issues.map((i) => `${i.code} ${i.space} ${i.key}`).sort();

describe('verify on an encrypted store with a damaged record', () => {
  it('in another namespace: the moved ciphertext is still reported as INTEGRITY', async () => {
    const store = await prepared({ space: 'kv.other', key: 'c' });
    try {
      const report = await store.verify();
      expect(report.ok).toBe(false);
      expect(found(report.issues)).toEqual(['CORRUPT kv.other c', 'INTEGRITY kv.vault b']);
    } finally {
      await store.close();
    }
  });

  it('in the same namespace: the records after it are still opened, and the damaged one is listed once', async () => {
    const store = await prepared({ space: 'kv.vault', key: 'a2' });
    try {
      const progress: Array<{ phase: string; checked: number; total: number }> = [];
      const report = await store.verify({ onProgress: (p) => progress.push(p) });
      expect(found(report.issues)).toEqual(['CORRUPT kv.vault a2', 'INTEGRITY kv.vault b']);
      const last = progress.filter((p) => p.phase === 'values').at(-1)!;
      expect(last.checked).toBe(last.total);
    } finally {
      await store.close();
    }
  });
});
