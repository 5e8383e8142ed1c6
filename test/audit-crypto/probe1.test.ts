import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, StrataError, type OpenStoreOptions, type Store } from '../../src/index.js';
import { rawDriver } from '../../src/testing/encryption-suite.js';

const KEY1 = Buffer.alloc(32, 0x11).toString('base64');
const KEY2 = Buffer.alloc(32, 0x22).toString('base64');
let dir: string;
const stores: Store[] = [];
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'audit-crypto-')); });
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});
async function open(encryption: unknown, extra: object = {}): Promise<Store> {
  const s = await openStore({ url: `sqlite:${join(dir, 'db.sqlite')}`, sweepInterval: false, encryption, ...extra } as OpenStoreOptions);
  stores.push(s);
  return s;
}
async function code(p: Promise<unknown>): Promise<string> {
  try { await p; return 'OK'; } catch (e) { return (e as StrataError).code + ': ' + (e as Error).message + ' | hint: ' + (e as StrataError).hint; }
}

describe('probe', () => {
  it('nested paths', async () => {
    const s = await open({ keys: `k1:${KEY1}` });
    const c = s.collection('c', { encrypt: ['a.b.c', 'items.0.secret', 'x.y'] });
    console.log('arr depth3', await code(c.insert({ id: '1', a: [{ b: { c: 'SECRET-ARR' } }] } as never)));
    console.log('numeric seg', await code(c.insert({ id: '2', items: [{ secret: 'SECRET-NUM' }] } as never)));
    console.log('arr depth2', await code(c.insert({ id: '3', x: [{ y: 'SECRET-X' }] } as never)));
    console.log('scalar depth3', await code(c.insert({ id: '4', a: 'scalar' } as never)));
    for (const k of ['1', '2', '3', '4']) console.log(k, JSON.stringify(await rawDriver(s).get('c.c', k, Date.now())));
  });
  it('lookup token swap', async () => {
    const s = await open({ keys: `k1:${KEY1}` });
    const c = s.collection('users', { encrypt: [{ path: 'email', lookup: true }] });
    await c.insert({ id: 'admin', email: 'admin@x.io' } as never);
    await c.insert({ id: 'mallory', email: 'm@x.io' } as never);
    const raw = rawDriver(s);
    const a = await raw.get('c.users', 'admin', Date.now());
    const m = await raw.get('c.users', 'mallory', Date.now());
    const tokA = JSON.parse(a!.value).email.$eq;
    const mdoc = JSON.parse(m!.value); mdoc.email.$eq = tokA;
    await raw.batch([{ type: 'put', space: 'c.users', key: 'mallory', value: JSON.stringify(mdoc), expiresAt: null }], Date.now(), { results: false });
    console.log('query admin', JSON.stringify(await c.query({ email: 'admin@x.io' })));
    console.log('query m', JSON.stringify(await c.query({ email: 'm@x.io' })));
  });
  it('where ops', async () => {
    const s = await open({ keys: `k1:${KEY1}` });
    const c = s.collection('users', { encrypt: ['apiKey', { path: 'email', lookup: true }] });
    await c.insert({ id: 'u1', email: 'a@x.io', apiKey: 'K1', n: 1 } as never);
    console.log('updateWhere enc', await code(c.updateWhere({ apiKey: 'K1' } as never, { n: 2 } as never)));
    console.log('deleteWhere enc', await code(c.deleteWhere({ apiKey: 'K1' } as never)));
    console.log('updateWhere lookup', await code(c.updateWhere({ email: 'a@x.io' } as never, { n: 3 } as never)));
    console.log('update enc field', await code(c.update('u1', { apiKey: 'NEW' } as never)));
    console.log('get', JSON.stringify(await c.get('u1')));
    console.log('dedupe by enc', await code(c.dedupe({ by: 'apiKey' })));
    console.log('dedupe keep enc', await code(c.dedupe({ by: 'n', keep: { newest: 'apiKey' } })));
    console.log('query exists', await code(c.query({ apiKey: { $exists: true } } as never)));
    console.log('query fields', await code(c.query({}, { fields: ['apiKey'] } as never)));
    console.log('query in lookup', JSON.stringify(await c.query({ email: { $in: ['a@x.io'] } } as never)));
    console.log('query number lookup', await code(c.query({ email: 5 } as never)));
    console.log('not', await code(c.query({ $not: { apiKey: 'x' } } as never)));
    console.log('nor', await code(c.query({ $nor: [{ apiKey: 'x' }] } as never)));
    console.log('and', await code(c.query({ $and: [{ apiKey: 'x' }] } as never)));
    console.log('elem', await code(c.query({ apiKey: { $elemMatch: { a: 1 } } } as never)));
    console.log('sub', await code(c.query({ 'apiKey.x': 1 } as never)));
    console.log('page sort', await code(c.page({}, { sort: { apiKey: 1 } } as never)));
    console.log('iterate sort', await code((async () => { for await (const _ of c.iterate({}, { sort: { apiKey: 1 } } as never)) {} })()));
    console.log('keys', await code(c.keys({ filter: { apiKey: 'x' } } as never)));
  });
});
