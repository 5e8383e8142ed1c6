// A restore in one process can take a space's `meta.encrypted` record out of the store (the
// backup is from before the space was encrypted). Another process whose handle was ready
// before it must not go on writing ciphertext into a space the store no longer lists as
// encrypted: every encrypted write checks that record in its own atomic step, and writes it
// again when it is gone. A third process that never declared the space then still reads
// plaintext, and verify() is clean.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fixture, LineChild, strata, tempDir } from './helpers.js';

const { openStore } = strata;
const KEYS = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
let dir: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('restore-encryption');
});
afterEach(async () => {
  await dir.dispose();
});

const CASES = [
  { name: 'sqlite', url: (d: string) => `sqlite:${join(d, 's.db')}` },
  { name: 'file', url: (d: string) => `file:${join(d, 'f')}` },
  { name: 'memory', url: () => 'memory:' },
] as const;

describe.each(CASES)('encrypted writes check their space is still listed, on $name', ({ name, url }) => {
  // A memory store lives in one process: the cross-process case is defined for stores on disk.
  if (name !== 'memory')
    it('a ready handle of another process keeps its space listed as encrypted', async () => {
      const at = url(dir.path);
      const backups = join(dir.path, 'backups');
      const store = await openStore({ url: at, sweepInterval: false, encryption: { keys: KEYS } });
      await store.kv('plain').set('x', 1);
      const { id } = await store.backup({ to: backups }); // before 'vault' was encrypted
      const vault = store.kv('vault', { encrypt: true });
      await vault.set('a', { secret: 'ay' });

      const child = new LineChild(fixture('encrypted-late-writer.mjs'), [at, KEYS], { stdin: true });
      try {
        await child.waitFor('R', 30_000);
        await store.restore(id, { dir: backups });
        child.proc.stdin!.write('go\n');
        const line = await child.waitFor((l) => l === 'D' || l.startsWith('E '), 30_000, 'D');
        expect(line).toBe('D');
        expect((await child.exit(30_000)).code).toBe(0);
      } finally {
        child.kill();
      }
      await store.close();

      // A process that declares nothing learns from the store which spaces are encrypted.
      const reader = await openStore({ url: at, sweepInterval: false, encryption: { keys: KEYS } });
      try {
        expect(await reader.kv('vault').get('c')).toEqual({ secret: 'sea' });
        expect(await reader.kv('vault').get('a')).toBeNull(); // the restore took it away
        expect(await reader.verify()).toMatchObject({ ok: true });
      } finally {
        await reader.close();
      }
    });

  // The check runs first in the batch: errors still name the caller's op, and a duplicate
  // in insertMany the caller's document.
  it("a conflict inside an encrypted batch names the caller's document", async () => {
    const store = await openStore({ url: url(dir.path), sweepInterval: false, encryption: { keys: KEYS } });
    try {
      const people = store.collection('people', { key: 'id', encrypt: ['ssn'] });
      await people.insertMany([
        { id: 'a', ssn: '1' },
        { id: 'b', ssn: '2' },
      ]);
      const error = await people
        .insertMany([
          { id: 'c', ssn: '3' },
          { id: 'b', ssn: '4' },
        ])
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CONFLICT', details: { collection: 'people', key: 'b' } });
      expect(await people.get('c')).toBeNull();
    } finally {
      await store.close();
    }
  });
});

// The check compares the stamp of the write, not only its version: a declaration replaced
// by another at the same version (deleted and written anew, as a restore from another store
// does) is noticed, and the write refused rather than encrypted by the old declaration.
describe.each(CASES.filter((c) => c.name !== 'memory'))('a replaced declaration at the same version, on $name', ({ url }) => {
  it('refuses the write with BAD_INPUT and writes nothing', async () => {
    const at = url(dir.path);
    const a = await openStore({ url: at, sweepInterval: false, encryption: { keys: KEYS } });
    const b = await openStore({ url: at, sweepInterval: false, encryption: { keys: KEYS } });
    try {
      const people = a.collection('people', { key: 'id', encrypt: ['ssn'] });
      await people.insert({ id: 'p1', ssn: '1', name: 'Ann' });
      const before = await b.driver.get('meta.encrypted', 'c.people', Date.now());
      expect(before?.version).toBe(1);
      await b.driver.batch([{ type: 'delete', space: 'meta.encrypted', key: 'c.people' }], Date.now());
      await b.collection('people', { key: 'id', encrypt: ['name'] }).insert({ id: 'p2', ssn: '2', name: 'Bob' });
      expect((await b.driver.get('meta.encrypted', 'c.people', Date.now()))?.version).toBe(1);

      const error = await people.insert({ id: 'p3', ssn: '3', name: 'Cy' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'BAD_INPUT' });
      expect(await b.collection('people').get('p3')).toBeNull();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe.each(CASES.filter((c) => c.name !== 'memory'))('the remembered encryption of a space, on $name', ({ url }) => {
  it('is the same declared with its fields in another order; other fields are BAD_INPUT', async () => {
    const at = url(dir.path);
    const a = await openStore({ url: at, sweepInterval: false, encryption: { keys: KEYS } });
    const b = await openStore({ url: at, sweepInterval: false, encryption: { keys: KEYS } });
    try {
      await a
        .collection('people', { encrypt: ['ssn', { path: 'email', lookup: true }] })
        .insert({ id: 'p1', ssn: '1', email: 'x@y' });
      const same = b.collection('people', { encrypt: [{ path: 'email', lookup: true }, 'ssn'] });
      await same.insert({ id: 'p2', ssn: '2', email: 'z@y' });
      expect((await same.query({ email: 'x@y' })).map((p) => p.id)).toEqual(['p1']);
      const other = await openStore({ url: at, sweepInterval: false, encryption: { keys: KEYS } });
      try {
        // Declaring is synchronous: the remembered declaration is checked at once.
        expect(() => other.collection('people', { encrypt: ['ssn', 'email'] })).toThrow(
          expect.objectContaining({ code: 'BAD_INPUT' }),
        );
      } finally {
        await other.close();
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});
