import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store.js';
import { StrataError } from '../../src/errors.js';
import { bottomDriver } from '../../src/ops/transfer/context.js';
import { rawDump } from '../../src/testing/transfer-suite.js';
import { retrailer } from './transfer-helpers.js';

/**
 * Import and the collection declarations the target remembers (meta.collections): an absent
 * one means "not declared"; a damaged one (CORRUPT) or a failing read is never taken for
 * absent, since the documents would then be checked against (and merged under) a guessed key
 * field. Such an import is refused with that error and the store is left byte for byte as it was.
 */

const root = mkdtempSync(join(tmpdir(), 'strata-transfer-specs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** items declared { key: 'id' } with two documents: one file with the declaration, one without. */
let declared: string;
let bare: string;

beforeAll(async () => {
  const source = await openStore('memory:');
  await source.collection('items', { key: 'id', indexes: ['kind'] }).insertMany([
    { id: 'i1', kind: 'a' },
    { id: 'i2', kind: 'b' },
  ]);
  declared = join(root, 'declared.strata');
  await source.export(declared);
  await source.close();
  const ndjson = gunzipSync(readFileSync(declared)).toString('utf8');
  const stripped = ndjson.replace(/\{"space":"meta\.collections"\}\n[^\n]*\n/, '');
  expect(stripped).not.toBe(ndjson);
  bare = join(root, 'bare.strata');
  writeFileSync(bare, gzipSync(retrailer(stripped)));
});

let n = 0;
/** A sqlite store that remembers `items` declared with key "sku" (one document), then has that declaration damaged. */
async function damagedTarget(): Promise<{ url: string; store: Store }> {
  const url = `sqlite:${join(root, `t${n++}.db`)}`;
  const first = await openStore({ url, sweepInterval: false });
  await first.collection('items', { key: 'sku' }).insert({ sku: 's1' });
  await first.kv('app').set('mine', 1);
  await bottomDriver(first.driver).batch(
    [{ type: 'put', space: 'meta.collections', key: 'items', value: '{"key":5,"indexes":"x"}', expiresAt: null }],
    Date.now(),
  );
  await first.close();
  // A damaged declaration does not stop the store from opening (verify must be able to run).
  return { url, store: await openStore({ url, sweepInterval: false }) };
}

async function refusal(promise: Promise<unknown>): Promise<StrataError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StrataError);
  return error as StrataError;
}

describe('a damaged remembered declaration', () => {
  it('merge of a file that declares the collection: CORRUPT, store unchanged', async () => {
    const { store } = await damagedTarget();
    const before = await rawDump(store, Date.now());
    const error = await refusal(store.import(declared, { mode: 'merge' }));
    expect(error.code, error.message).toBe('CORRUPT');
    expect(error.message).toMatch(/declaration of collection "items" is damaged/);
    expect(error.hint).toMatch(/store\.collection\("items"/);
    expect(await rawDump(store, Date.now())).toBe(before);
    await store.close();
  });

  it('merge or replace of a file that does not declare it: CORRUPT, never the default key field', async () => {
    for (const mode of ['merge', 'replace'] as const) {
      const { store } = await damagedTarget();
      const before = await rawDump(store, Date.now());
      const error = await refusal(store.import(bare, { mode }));
      expect(error.code, `${mode}: ${error.message}`).toBe('CORRUPT');
      expect(await rawDump(store, Date.now())).toBe(before);
      await store.close();
    }
  });

  it('replace of a file that declares it: imported, the declaration rewritten (replace does not consult the old one)', async () => {
    const { url, store } = await damagedTarget();
    const report = await store.import(declared, { mode: 'replace' });
    expect(report.records).toBe(3);
    await store.close();
    const again = await openStore({ url, sweepInterval: false });
    expect(await again.describe('items')).toEqual({ key: 'id', indexes: ['kind'], timestamps: false, ttl: null });
    expect((await again.collection('items').query({ kind: 'b' })).map((d) => d.id)).toEqual(['i2']);
    expect(await again.kv('app').get('mine')).toBeNull();
    await again.close();
  });

  it('declared in the importing process (what the hint says): the merge uses that declaration', async () => {
    const { store } = await damagedTarget();
    store.collection('items', { key: 'id', indexes: ['kind'] });
    await store.import(declared, { mode: 'merge' });
    expect((await store.collection('items').query({ kind: 'a' })).map((d) => d.id)).toEqual(['i1']);
    await store.close();
  });
});

describe('a failing read of the remembered declaration', () => {
  it('is that error (UNAVAILABLE), not "no declaration": store unchanged', async () => {
    for (const [file, mode] of [
      [() => declared, 'merge'],
      [() => bare, 'merge'],
      [() => bare, 'replace'],
    ] as const) {
      const store = await openStore({ url: `sqlite:${join(root, `u${n++}.db`)}`, sweepInterval: false });
      await store.kv('app').set('mine', 1);
      const before = await rawDump(store, Date.now());
      const driver = store.driver;
      const get = driver.get.bind(driver);
      // The store's own stack, as import reads declarations through it: a backend gone away.
      (driver as { get: typeof get }).get = async (space, key, now) => {
        if (space === 'meta.collections') throw new StrataError('UNAVAILABLE', 'the backend went away');
        return get(space, key, now);
      };
      const error = await refusal(store.import(file(), { mode }));
      expect(error.code, `${mode}: ${error.message}`).toBe('UNAVAILABLE');
      (driver as { get: typeof get }).get = get;
      expect(await rawDump(store, Date.now())).toBe(before);
      await store.close();
    }
  });
});
