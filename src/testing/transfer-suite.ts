import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';
import { openStore, type Store } from '../store.js';
import type { Driver } from '../drivers/driver.js';

/** The driver at the bottom of a store's stack (what it really stores). */
function bottom(store: Store): Driver {
  let at: Driver = store.driver;
  while ('inner' in at && (at as { inner?: Driver }).inner !== undefined) at = (at as { inner: Driver }).inner;
  return at;
}

async function dumpOf(driver: Driver, now: number, spaces: (s: string) => boolean): Promise<string> {
  const lines: string[] = [];
  for (const space of (await driver.spaces()).filter(spaces).sort()) {
    for (const r of await driver.scan(space, {}, now)) {
      lines.push(JSON.stringify([space, r.key, r.value, r.version, r.createdAt, r.updatedAt, r.expiresAt]));
    }
  }
  return lines.join('\n');
}

/** Every record of every space (meta.* included) exactly as stored: equal before and after a refused import. */
export function rawDump(store: Store, now: number): Promise<string> {
  return dumpOf(bottom(store), now, () => true);
}

/**
 * sha256 over a canonical dump of every user space (kv.*, c.*) as the store reads it
 * (decrypted): space, key, value, version, createdAt, updatedAt, expiresAt of each live record.
 * Two stores with equal hashes hold the same data, whatever their backends.
 */
export async function contentHash(store: Store, now: number): Promise<string> {
  const text = await dumpOf(store.driver, now, (s) => s.startsWith('kv.') || s.startsWith('c.'));
  return createHash('sha256').update(text).digest('hex');
}

const BACKENDS = ['memory', 'sqlite', 'file'] as const;

function urlOf(backend: (typeof BACKENDS)[number], dir: string): string {
  return backend === 'memory'
    ? 'memory:'
    : backend === 'sqlite'
      ? `sqlite:${join(dir, 'target.db')}`
      : `file:${join(dir, 'target')}`;
}

/** Mixed data: several namespaces, expiry, updated versions, unicode keys, nested values, a collection with indexes and timestamps. */
async function seed(store: Store): Promise<void> {
  const app = store.kv('app');
  await app.set('theme', 'dark');
  await app.set('theme', 'light');
  await app.set('nested', { a: [1, { b: null, c: 'é😀' }], d: -0.5, e: 12345678901 });
  await app.set('ttl', 'soon', { ttl: '1h' });
  await app.set('😀 key', true);
  // Code-point order differs from UTF-16 order here (U+FF01 sorts before U+1F600 by code point only).
  await app.set('\uff01 wide', 'bang');
  await app.set('\u{1f600}', 'face');
  await store.kv('counters').incr('n', 41);
  const tasks = store.collection('tasks', { indexes: ['status'], timestamps: true });
  await tasks.insert({ id: 't1', status: 'todo', title: 'one' });
  await tasks.insert({ id: 't2', status: 'done', title: 'two' });
  await tasks.update('t1', { status: 'done' });
}

/**
 * export -> import between this driver and every embedded backend (memory, sqlite, file):
 * content hashes equal both ways; merge and replace; a damaged file changes nothing.
 */
export function transferSuite(factory: DriverFactory): void {
  describe('export and import', () => {
    let h: Harness;
    let dir: string;
    beforeEach(async () => {
      h = await makeHarness(factory);
      dir = await mkdtemp(join(tmpdir(), 'strata-transfer-'));
    });
    afterEach(async () => {
      await h.dispose();
      await rm(dir, { recursive: true, force: true });
    });
    /** Plain values when the store encrypts or signs (the targets have no keyring here). */
    const decrypt = (): boolean => bottom(h.store) !== h.store.driver && h.store.driver.capabilities.encryption === true;

    for (const backend of BACKENDS) {
      it(`round trips to ${backend} and back with equal content hashes`, async () => {
        await seed(h.store);
        const before = await contentHash(h.store, h.clock.now);
        const file = join(dir, 'out.strata');
        const report = await h.store.export(file, { decrypt: decrypt() });
        expect(report.spaces['kv.app']).toBe(6);
        const target = await openStore({ url: urlOf(backend, dir), clock: h.clock.fn, sweepInterval: false });
        try {
          const imported = await target.import(file, { mode: 'replace' });
          expect(imported.records).toBe(report.records - (report.spaces['meta.crypto'] ?? 0));
          expect(await contentHash(target, h.clock.now)).toBe(before);
          // The declaration travelled: the collection is keyed and indexed without being declared again.
          expect(await target.describe('tasks')).toMatchObject({ key: 'id', indexes: ['status'], timestamps: true });
          expect((await target.collection('tasks').query({ status: 'done' })).map((d) => d.id)).toEqual(['t1', 't2']);
          expect((await target.kv('app').getEntry('theme'))?.version).toBe(2);
          // And back: from the other backend into this driver.
          const back = join(dir, 'back.strata');
          await target.export(back);
          await h.store.kv('app').set('theme', 'changed');
          await h.store.import(back, { mode: 'replace' });
          expect(await contentHash(h.store, h.clock.now)).toBe(before);
        } finally {
          await target.close();
        }
      });
    }

    it('checks documents by the schema a collection is declared with in this process, after a restore too', async () => {
      // A Standard Schema written out: the suite runs without zod.
      const schema = {
        '~standard': {
          version: 1 as const,
          vendor: 'strata-test',
          validate: (value: unknown) =>
            typeof (value as { age?: unknown }).age === 'number'
              ? { value: value as { id: string; age: number } }
              : { issues: [{ message: 'age must be a number', path: ['age'] }] },
        },
      };
      const people = h.store.collection('people', { schema });
      await people.insert({ id: 'p0', age: 3 });
      const source = await openStore({ url: 'memory:', clock: h.clock.fn, sweepInterval: false });
      const bad = join(dir, 'bad.strata');
      try {
        await source.collection('people').insert({ id: 'p1', age: 'old' });
        await source.export(bad);
      } finally {
        await source.close();
      }
      await expectCode(h.store.import(bad), 'VALIDATION_FAILED');
      // A restore reloads the collections' specs from the store; the schema is not among them.
      const backup = await h.store.backup({ to: join(dir, 'backups') });
      await h.store.restore(backup.id, { dir: join(dir, 'backups') });
      const before = await contentHash(h.store, h.clock.now);
      for (const mode of ['merge', 'replace'] as const) await expectCode(h.store.import(bad, { mode }), 'VALIDATION_FAILED');
      expect(await contentHash(h.store, h.clock.now)).toBe(before);
      expect(await people.get('p1')).toBeNull();
      expect(await people.get('p0')).toEqual({ id: 'p0', age: 3 });
    });

    it('merge keeps records the file does not hold; replace empties them', async () => {
      await h.store.kv('a').set('x', 1);
      const file = join(dir, 'a.strata');
      await h.store.export(file, { decrypt: decrypt() });
      await h.store.kv('a').set('x', 2);
      await h.store.kv('b').set('y', 'kept');
      await h.store.import(file, { mode: 'merge' });
      expect(await h.store.kv('a').get('x')).toBe(1);
      expect(await h.store.kv('b').get('y')).toBe('kept');
      await h.store.import(file, { mode: 'replace' });
      expect(await h.store.kv('b').get('y')).toBeNull();
      expect((await h.store.names()).kv).toEqual(['a']);
    });

    it('refuses a damaged file and leaves the store exactly as it was', async () => {
      await seed(h.store);
      const file = join(dir, 'good.strata');
      await h.store.export(file, { decrypt: decrypt() });
      const before = await rawDump(h.store, h.clock.now);
      const bytes = await readFile(file);
      const bad = join(dir, 'bad.strata');
      await writeFile(bad, bytes.subarray(0, bytes.length - 9));
      await expectCode(h.store.import(bad, { mode: 'replace' }), 'CORRUPT');
      const lines = gunzipSync(bytes).toString('utf8').split('\n');
      const flipped = lines.map((l) => l.replace('"light"', '"lighT"')).join('\n');
      await writeFile(bad, gzipSync(flipped));
      await expectCode(h.store.import(bad, { mode: 'replace' }), 'CORRUPT');
      await expectCode(h.store.import(join(dir, 'missing.strata')), 'NOT_FOUND');
      await expectCode(h.store.import(file, { mode: 'overwrite' as 'merge' }), 'BAD_INPUT');
      await expectCode(h.store.import(file, { mod: 'merge' } as object), 'BAD_INPUT');
      await expectCode(h.store.export(join(dir, 'x.strata'), { decrypted: true } as object), 'BAD_INPUT');
      expect(await rawDump(h.store, h.clock.now)).toBe(before);
    });
  });
}
