import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register as globalRegistry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/index.js';
import { memoryDriver } from '../../src/drivers/memory.js';
import { readTotals } from '../../src/observe/persist.js';
import { parseExposition, valueOf, type Sample } from './exposition.js';
import { expectCode } from '../conformance/index.js';

let dir: string;
const opened: Store[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-metrics-'));
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function open(options: Parameters<typeof openStore>[0]): Promise<Store> {
  const store = await openStore(options);
  opened.push(store);
  return store;
}

const samplesOf = async (store: Store): Promise<Sample[]> => parseExposition(await store.metrics()).samples;

describe('store.metrics() with metrics on (sqlite)', () => {
  it('counts gets, sets and errors per space, with histograms, writes and gauges', async () => {
    const store = await open({ url: `sqlite:${join(dir, 'm.db')}`, metrics: { flushInterval: false }, sweepInterval: false });
    const kv = store.kv<number>('counters', { quota: { records: 12 } });
    for (let i = 0; i < 10; i++) await kv.set(`k${i}`, i);
    for (let i = 0; i < 25; i++) await kv.get(`k${i % 15}`); // 15 of them absent: misses are gets too
    await kv.getMany(['k1', 'k2']);
    await expectCode(kv.set('k1', 5, { ifVersion: 9 }), 'CONFLICT');
    await expectCode(
      kv.setMany([
        ['n1', 1],
        ['n2', 2],
        ['n3', 3],
      ]),
      'QUOTA_EXCEEDED',
    );
    await kv.delete('k9');
    expect(await kv.count()).toBe(9);
    const other = store.kv('other');
    await other.set('x', 'y');

    const { samples, types } = parseExposition(await store.metrics());
    expect(types.get('strata_operations_total')).toBe('counter');
    expect(types.get('strata_operation_duration_seconds')).toBe('histogram');
    expect(types.get('strata_records')).toBe('gauge');
    const space = 'kv.counters';
    expect(valueOf(samples, 'strata_operations_total', { space, op: 'get' })).toBe(25);
    expect(valueOf(samples, 'strata_operations_total', { space, op: 'getMany' })).toBe(1);
    expect(valueOf(samples, 'strata_operations_total', { space, op: 'count' })).toBe(1);
    // 10 sets, the conflicting one, the refused setMany and the delete: one batch each.
    expect(valueOf(samples, 'strata_operations_total', { space, op: 'batch' })).toBe(13);
    expect(valueOf(samples, 'strata_operation_duration_seconds_count', { space, op: 'get' })).toBe(25);
    expect(valueOf(samples, 'strata_operation_duration_seconds_bucket', { space, op: 'get', le: '+Inf' })).toBe(25);
    const sum = valueOf(samples, 'strata_operation_duration_seconds_sum', { space, op: 'get' })!;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(1);
    expect(valueOf(samples, 'strata_errors_total', { space, op: 'batch', code: 'CONFLICT' })).toBe(1);
    expect(valueOf(samples, 'strata_errors_total', { space, op: 'batch', code: 'QUOTA_EXCEEDED' })).toBe(1);
    expect(valueOf(samples, 'strata_errors_total', { space, op: 'get' })).toBeUndefined();
    expect(valueOf(samples, 'strata_writes_total', { space, type: 'put' })).toBe(10);
    expect(valueOf(samples, 'strata_writes_total', { space, type: 'delete' })).toBe(1);
    expect(valueOf(samples, 'strata_records', { space })).toBe(9);
    expect(valueOf(samples, 'strata_records', { space: 'kv.other' })).toBe(1);
    expect(valueOf(samples, 'strata_bytes', { space })).toBeGreaterThan(9 * 2);
    expect(valueOf(samples, 'strata_storage_bytes')).toBeGreaterThan(0);
    expect(valueOf(samples, 'strata_operations_total', { space: 'kv.other', op: 'batch' })).toBe(1);
  });

  it('keeps the synchronous read path of the driver (kv.get on sqlite)', async () => {
    const store = await open({ url: `sqlite:${join(dir, 's.db')}`, metrics: true, sweepInterval: false });
    expect(store.driver.capabilities.syncReads).toBe(true);
    expect(store.driver.capabilities.valueReads).toBe(true);
    expect(typeof store.driver.getValueSync).toBe('function');
    expect(typeof store.driver.getSync).toBe('function');
    const kv = store.kv('a');
    await kv.set('k', { v: 1 });
    expect(await kv.get('k')).toEqual({ v: 1 });
    await store.transaction(async (tx) => {
      await tx.kv('a').set('t', 1);
    });
    const samples = await samplesOf(store);
    expect(valueOf(samples, 'strata_operations_total', { space: 'kv.a', op: 'get' })).toBeGreaterThanOrEqual(2);
    expect(valueOf(samples, 'strata_writes_total', { space: 'kv.a', type: 'put' })).toBe(2);
  });

  it('caps the space label at maxSpaces: 500 namespaces -> 100 labels plus _other, totals kept', async () => {
    const store = await open({ url: 'memory:', metrics: true, sweepInterval: false });
    for (let i = 0; i < 500; i++) await store.kv(`ns${String(i).padStart(3, '0')}`).set('k', i);
    const samples = await samplesOf(store);
    const ops = samples.filter((s) => s.name === 'strata_operations_total' && s.labels.op === 'batch');
    const labels = new Set(ops.map((s) => s.labels.space));
    expect(labels.size).toBeLessThanOrEqual(101);
    expect(labels.has('_other')).toBe(true);
    expect(ops.reduce((n, s) => n + s.value, 0)).toBe(500);
    const records = samples.filter((s) => s.name === 'strata_records');
    expect(records.length).toBeLessThanOrEqual(101);
    expect(records.find((s) => s.labels.space === '_other')!.value).toBeGreaterThan(0);
    expect(
      records.filter((s) => s.labels.space?.startsWith('kv.')).reduce((n, s) => n + s.value, 0) +
        valueOf(samples, 'strata_records', { space: '_other' })!,
    ).toBe(500);
    // Every series of every family stays under the cap, whatever the number of spaces.
    const spaces = new Set(samples.map((s) => s.labels.space).filter((s) => s !== undefined));
    expect(spaces.size).toBeLessThanOrEqual(101);

    const small = await open({ url: 'memory:', metrics: { maxSpaces: 3 }, sweepInterval: false });
    for (let i = 0; i < 10; i++) await small.kv(`s${i}`).set('k', i);
    const few = new Set((await samplesOf(small)).map((s) => s.labels.space).filter((s) => s !== undefined));
    expect(few.size).toBeLessThanOrEqual(4);
  });

  it('two stores in one process have their own registries (and never the global one)', async () => {
    const before = globalRegistry.getMetricsAsArray().length;
    const a = await open({ url: 'memory:', metrics: true, sweepInterval: false });
    const b = await open({ url: 'memory:', metrics: true, sweepInterval: false });
    for (let i = 0; i < 3; i++) await a.kv('x').set(`k${i}`, i);
    await b.kv('x').set('k', 1);
    expect(valueOf(await samplesOf(a), 'strata_writes_total', { space: 'kv.x', type: 'put' })).toBe(3);
    expect(valueOf(await samplesOf(b), 'strata_writes_total', { space: 'kv.x', type: 'put' })).toBe(1);
    expect(globalRegistry.getMetricsAsArray().length).toBe(before);
  });

  it('without the option: only the records, bytes and storage gauges, and no counting layer', async () => {
    const store = await open({ url: `sqlite:${join(dir, 'g.db')}`, sweepInterval: false });
    await store.kv('a').set('k', 'v');
    const { samples, types } = parseExposition(await store.metrics());
    expect(types.has('strata_operations_total')).toBe(false);
    expect(valueOf(samples, 'strata_records', { space: 'kv.a' })).toBe(1);
    expect(valueOf(samples, 'strata_storage_bytes')).toBeGreaterThan(0);
    expect('state' in store.driver).toBe(false);
  });

  it('a closed store is CLOSED; bad options are BAD_INPUT and open nothing', async () => {
    const store = await openStore({ url: 'memory:', metrics: true });
    await store.close();
    await expectCode(store.metrics(), 'CLOSED');
    const plain = await openStore({ url: 'memory:' });
    await plain.close();
    await expectCode(plain.metrics(), 'CLOSED');
    for (const metrics of [
      'yes',
      1,
      null,
      [],
      { maxSpaces: 0 },
      { maxSpaces: 1.5 },
      { flushInterval: 'soon' },
      { flushInterval: true },
      { labels: 3 },
    ]) {
      await expectCode(openStore({ url: 'memory:', metrics: metrics as never }), 'BAD_INPUT');
    }
    // null is a value given (neither a whole number nor a duration or false), not an option left out.
    for (const metrics of [{ maxSpaces: null }, { flushInterval: null }]) {
      const error = await expectCode(openStore({ url: 'memory:', metrics: metrics as never }), 'BAD_INPUT');
      expect(error.op).toBe('openStore');
      expect(error.hint).toBeTypeOf('string');
    }
  });
});

describe('metrics labels', () => {
  it('a scrape before use gives idle spaces gauge labels only: the spaces this process uses keep their own counters', async () => {
    const url = `sqlite:${join(dir, 'labels.db')}`;
    const before = await openStore({ url, sweepInterval: false });
    for (const n of ['a', 'b', 'c']) await before.kv(n).set('k', 1);
    await before.close();
    const store = await open({ url, sweepInterval: false, metrics: { maxSpaces: 2, flushInterval: false } });
    const first = await samplesOf(store); // a Prometheus scrape right after start
    // meta.collections (read at open) holds one slot; the gauges fill the other by name order.
    expect(valueOf(first, 'strata_records', { space: 'kv.a' })).toBe(1);
    expect(valueOf(first, 'strata_records', { space: '_other' })).toBe(2);
    await store.kv('z').set('k', 1);
    await store.kv('z').get('k');
    const samples = await samplesOf(store);
    expect(valueOf(samples, 'strata_operations_total', { space: 'kv.z', op: 'batch' })).toBe(1);
    expect(valueOf(samples, 'strata_operations_total', { space: '_other', op: 'batch' })).toBeUndefined();
    // kv.z took the last slot: the idle spaces are summed under _other now.
    expect(valueOf(samples, 'strata_records', { space: 'kv.z' })).toBe(1);
    expect(valueOf(samples, 'strata_records', { space: '_other' })).toBe(3);
  });
});

describe('strata_writes_total', () => {
  it('counts records deleted: deletes of keys that do not exist add nothing', async () => {
    const store = await open({ url: 'memory:', sweepInterval: false, metrics: { flushInterval: false } });
    const kv = store.kv('d');
    await kv.setMany([
      ['k', 1],
      ['j', 2],
    ]);
    expect(await kv.delete('missing')).toBe(false);
    expect(await kv.deleteMany(['nope1', 'nope2', 'j'])).toBe(1);
    expect(await kv.delete('k')).toBe(true);
    await store.transaction(async (tx) => {
      await tx.kv('d').delete('never-there');
    });
    const samples = await samplesOf(store);
    expect(valueOf(samples, 'strata_writes_total', { space: 'kv.d', type: 'delete' })).toBe(2);
    expect(valueOf(samples, 'strata_writes_total', { space: 'kv.d', type: 'put' })).toBe(2);
  });
});

describe('counters written to the store for strata stats', () => {
  it('are written on close (and every flushInterval) and summed over processes', async () => {
    const url = `sqlite:${join(dir, 'p.db')}`;
    const first = await openStore({ url, metrics: { flushInterval: '50ms' }, sweepInterval: false });
    const kv = first.kv('jobs');
    for (let i = 0; i < 20; i++) await kv.set(`j${i}`, i);
    await new Promise((r) => setTimeout(r, 200));
    let totals = await readTotals(first.driver, Date.now());
    expect(totals.processes).toBe(1);
    expect(totals.ops.find((o) => o.space === 'kv.jobs' && o.op === 'batch')?.count).toBe(20);
    await expectCode(kv.set('j1', 0, { ifVersion: 7 }), 'CONFLICT');
    await first.close();

    const second = await openStore({ url, metrics: true, sweepInterval: false });
    for (let i = 0; i < 5; i++) await second.kv('jobs').get(`j${i}`);
    await second.close();

    const reader = await open({ url, sweepInterval: false });
    totals = await readTotals(reader.driver, Date.now());
    expect(totals.processes).toBe(2);
    expect(totals.damaged).toBe(0);
    const batch = totals.ops.find((o) => o.space === 'kv.jobs' && o.op === 'batch')!;
    expect(batch.count).toBe(21);
    expect(batch.errors).toEqual({ CONFLICT: 1 });
    expect(batch.p50Ms).toBeGreaterThan(0);
    expect(batch.p99Ms).toBeGreaterThanOrEqual(batch.p50Ms!);
    expect(totals.ops.find((o) => o.space === 'kv.jobs' && o.op === 'get')?.count).toBe(5);
    // The snapshots live in meta.metrics: never a namespace of the user's.
    expect((await reader.names()).kv).toEqual(['jobs']);
  });

  it('flushInterval false writes nothing', async () => {
    const driver = memoryDriver();
    const store = await openStore({ driver, metrics: { flushInterval: false }, sweepInterval: false });
    await store.kv('a').set('k', 1);
    const totals = await readTotals(store.driver, Date.now());
    await store.close();
    expect(totals.processes).toBe(0);
  });
});
