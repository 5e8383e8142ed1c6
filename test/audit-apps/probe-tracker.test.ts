import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, it } from 'vitest';
import { StrataError, openStore } from '../../src/index.js';
import { createTracker, DeployTracker } from '../../examples/deploy-tracker/tracker.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
const dir = mkdtempSync(join(tmpdir(), 'probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const what = async (label: string, f: () => unknown) => {
  try {
    const r = await f();
    console.log(label, '=> OK', JSON.stringify(r)?.slice(0, 300));
  } catch (e) {
    console.log(label, '=>', e instanceof StrataError ? `StrataError ${e.code}` : `${(e as Error).constructor.name}`, (e as Error).message.slice(0, 150));
  }
};
const dep = (id: string, status: string, createdAt?: string, extra = {}) => ({ id, repoName: 'r', branch: 'main', status, ...(createdAt ? { createdAt } : {}), ...extra });

it('probe', async () => {
  let now = Date.parse('2026-06-01T00:00:00Z');
  const t = await createTracker({ url: `file:${join(dir, 's')}`, keys: KEYS, cron: false, clock: () => now });
  await what('getData("")', () => t.getData(''));
  await what('getData(1)', () => t.getData(1 as any));
  await what('setData(x, undefined)', () => t.setData('x', undefined));
  await what('setData(x, fn)', () => t.setData('x', () => 1));
  await what('setData(x, NaN)', () => t.setData('x', NaN));
  await what('setData(x, 1n)', () => t.setData('x', 1n));
  await what('setData(x, Date) get', async () => { await t.setData('x', new Date(0)); const v = await t.getData('x'); return [typeof v, v instanceof Date, v]; });
  await what('setData(x, Map)', async () => { await t.setData('x', new Map([[1, 2]])); return await t.getData('x'); });
  await what('setData(x, {a:undefined})', async () => { await t.setData('x', { a: undefined, b: 1 }); return await t.getData('x'); });
  await what('setData(x, circular)', () => { const o: any = {}; o.o = o; return t.setData('x', o); });
  await what('persistAccessToken("")', () => t.persistAccessToken(''));
  await what('persistAccessToken(null)', () => t.persistAccessToken(null as any));
  await what('persistAccessToken jwt-ish', async () => { await t.persistAccessToken('ab+/c== d'); return t.getData('accessToken'); });
  await what('persistAccessToken ttl -1', () => t.persistAccessToken('a', { ttl: -1 }));
  await what('persistAccessToken ttl bogus', () => t.persistAccessToken('a', { ttl: 'bogus' as any }));
  await what('persistAccessToken(a, null)', () => t.persistAccessToken('a', null as any));
  await what('ttl then no ttl', async () => {
    await t.persistAccessToken('first', { ttl: '1h' });
    await t.persistAccessToken('second');
    now += 2 * 3600_000;
    return t.getData('accessToken');
  });
  await what('ttl then setData', async () => {
    await t.persistAccessToken('first', { ttl: '1h' });
    await t.setData('accessToken', 'second');
    now += 2 * 3600_000;
    return t.getData('accessToken');
  });
  await what('recordDeployment(null)', () => t.recordDeployment(null as any));
  await what('recordDeployment(epoch number createdAt)', () => t.recordDeployment(dep('d', 's', 5 as any)));
  await what('recordDeployment(year 0050)', () => t.recordDeployment(dep('d', 's', '0050-01-01T00:00:00Z')));
  await what('recordDeployment(date year 50)', () => t.recordDeployment({ ...dep('d', 's'), createdAt: new Date('0050-01-01T00:00:00Z') }));
  await what('recordDeployment(recordId "")', () => t.recordDeployment({ ...dep('d', 's'), recordId: '' }));
  await what('recordDeployment(recordId 5)', () => t.recordDeployment({ ...dep('d', 's'), recordId: 5 as any }));
  await what('recordDeployment(id 5)', () => t.recordDeployment({ ...dep('d', 's'), id: 5 as any }));
  await what('recordDeployment(extra __proto__)', () => t.recordDeployment(JSON.parse('{"id":"p","repoName":"r","branch":"b","status":"s","__proto__":{"x":1}}')));
  await what('recordDeployments(null)', () => t.recordDeployments(null as any));
  await what('listDeployments(null)', () => t.listDeployments(null as any));
  await what('listDeployments({}, null)', () => t.listDeployments({}, null as any));
  await what('pruneDupes("")', () => t.pruneDupes(''));
  await what('pruneDupes(d, "")', () => t.pruneDupes('deployments', ''));
  await what('pruneDupes(d, 5)', () => t.pruneDupes('deployments', 5 as any));
  await t.deployments.deleteWhere({});
  await t.recordDeployments([dep('a', 's', '2026-06-01T10:00:00Z'), dep('b', 's', '2026-06-01T10:01:00Z'), dep('c', 's', '2026-06-01T10:02:00Z', { commit: 'x' })]);
  await what('pruneDupes(d, commit) two missing', async () => [await t.pruneDupes('deployments', 'commit'), (await t.listDeployments()).map((d) => d.id)]);
  await t.deployments.deleteWhere({});
  await t.recordDeployments([dep('a', 's', '2026-06-01T10:00:00Z', { n: 1 }), dep('b', 's', '2026-06-01T10:01:00Z', { n: '1' })]);
  await what('pruneDupes(d, n) 1 vs "1"', async () => [await t.pruneDupes('deployments', 'n'), (await t.listDeployments()).map((d) => d.id)]);
  await t.deployments.deleteWhere({});
  await t.recordDeployments([dep('a', 's', '2026-06-01T10:00:00Z', { n: null }), dep('b', 's', '2026-06-01T10:01:00Z', { n: null })]);
  await what('pruneDupes(d, n) null', async () => [await t.pruneDupes('deployments', 'n'), (await t.listDeployments()).map((d) => d.id)]);
  await t.deployments.deleteWhere({});
  await t.recordDeployments([dep('a', 's', '2026-06-01T10:00:00Z', { meta: { sha: 'x' } }), dep('b', 's', '2026-06-01T10:01:00Z', { meta: { sha: 'x' } })]);
  await what('pruneDupes(d, meta.sha)', async () => [await t.pruneDupes('deployments', 'meta.sha'), (await t.listDeployments()).map((d) => d.id)]);
  await what('pruneDupes(d, meta) objects', async () => [await t.pruneDupes('deployments', 'meta'), (await t.listDeployments()).map((d) => d.id)]);
  await what('list Date createdAt', async () => {
    await t.setData('L', [{ id: 1, v: 'new', createdAt: new Date('2026-06-02T00:00:00Z') }, { id: 1, v: 'old', createdAt: new Date('2026-06-01T00:00:00Z') }]);
    return [await t.pruneDupes('L'), await t.getData('L')];
  });
  await what('list epoch createdAt', async () => {
    await t.setData('L', [{ id: 1, v: 'new', createdAt: 2000 }, { id: 1, v: 'old', createdAt: 1000 }]);
    return [await t.pruneDupes('L'), await t.getData('L')];
  });
  await what('list idKey "__proto__"', async () => {
    await t.setData('L', [{ id: 1 }, { id: 2 }]);
    return [await t.pruneDupes('L', '__proto__'), await t.getData('L')];
  });
  await what('list idKey "constructor"', async () => {
    await t.setData('L', [{ id: 1 }, { id: 2 }]);
    return [await t.pruneDupes('L', 'constructor'), await t.getData('L')];
  });
  await what('list idKey "toString"', async () => {
    await t.setData('L', [{ id: 1 }, { id: 2 }]);
    return [await t.pruneDupes('L', 'toString'), await t.getData('L')];
  });
  await what('list boolean ids', async () => {
    await t.setData('L', [{ id: true, v: 1 }, { id: true, v: 2 }]);
    return [await t.pruneDupes('L'), await t.getData('L')];
  });
  await what('list nested idKey path', async () => {
    await t.setData('L', [{ m: { id: 1 }, v: 1 }, { m: { id: 1 }, v: 2 }]);
    return [await t.pruneDupes('L', 'm.id'), await t.getData('L')];
  });
  await what('pruneDupes on token key', () => t.pruneDupes('accessToken'));
  await what('createTracker cron bogus', () => createTracker({ url: `file:${join(dir, 's2')}`, keys: KEYS, cron: 'bogus' }));
  await what('createTracker cron true', () => createTracker({ url: `file:${join(dir, 's3')}`, keys: KEYS, cron: true as any }));
  await what('createTracker null', () => createTracker(null as any));
  await what('createTracker keys ""', () => createTracker({ url: `file:${join(dir, 's4')}`, keys: '' }));
  await what('createTracker clock bogus', () => createTracker({ url: `file:${join(dir, 's5')}`, keys: KEYS, clock: 5 as any }));
  await t.close();
  await what('DeployTracker on plain store', async () => { const s = await openStore({ url: `file:${join(dir, 'p')}` }); const d = new DeployTracker(s); try { await d.persistAccessToken('tok'); return 'stored'; } finally { await s.close(); } });
}, 60_000);
