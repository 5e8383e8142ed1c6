import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataError } from '../errors.js';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';

/** Expects `promise` to reject with a StrataError of `code`. */
export async function expectCode(promise: Promise<unknown> | (() => unknown), code: string): Promise<StrataError> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  expect(error, `expected StrataError ${code}`).toBeInstanceOf(StrataError);
  expect((error as StrataError).code).toBe(code);
  return error as StrataError;
}

/** Code point order: what "key order" means in Strata. */
export function byCodePoint(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

export function kvSuite(factory: DriverFactory): void {
  describe('kv', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });

    it('round-trips every JSON value and returns null when absent', async () => {
      const kv = h.store.kv('app');
      const values = [
        'abc',
        '',
        0,
        -1.5,
        1e21,
        true,
        false,
        null,
        [],
        [1, 'a', null],
        { a: { b: [1, { c: 'd' }] } },
        'ünïcødé 😀',
      ];
      for (const [i, value] of values.entries()) await kv.set(`k${i}`, value);
      for (const [i, value] of values.entries()) expect(await kv.get(`k${i}`)).toEqual(value);
      expect(await kv.get('missing')).toBeNull();
      expect(await kv.has('k0')).toBe(true);
      expect(await kv.has('missing')).toBe(false);
      expect(await kv.get('k2')).toBe(0);
    });

    it('stores Dates as ISO strings and drops undefined properties', async () => {
      const kv = h.store.kv('app');
      await kv.set('d', { at: new Date('2026-01-02T03:04:05.000Z'), gone: undefined });
      expect(await kv.get('d')).toEqual({ at: '2026-01-02T03:04:05.000Z' });
    });

    it('numbers versions from 1 and keeps createdAt while updatedAt moves', async () => {
      const kv = h.store.kv('app');
      const first = await kv.set('a', 1);
      expect(first.version).toBe(1);
      h.clock.advance(1000);
      await kv.set('a', 2);
      const entry = await kv.getEntry('a');
      expect(entry).toMatchObject({ key: 'a', value: 2, version: 2, expiresAt: null });
      expect(entry!.createdAt.getTime()).toBe(first.createdAt.getTime());
      expect(entry!.updatedAt.getTime()).toBe(first.createdAt.getTime() + 1000);
      expect(await kv.getEntry('nope')).toBeNull();
    });

    it('honours ifVersion (0 = only if absent) and leaves the value on CONFLICT', async () => {
      const kv = h.store.kv('app');
      await kv.set('a', 'one', { ifVersion: 0 });
      await expectCode(kv.set('a', 'two', { ifVersion: 0 }), 'CONFLICT');
      await expectCode(kv.set('a', 'two', { ifVersion: 5 }), 'CONFLICT');
      expect((await kv.set('a', 'two', { ifVersion: 1 })).version).toBe(2);
      await expectCode(kv.delete('a', { ifVersion: 1 }), 'CONFLICT');
      expect(await kv.get('a')).toBe('two');
      expect(await kv.delete('a', { ifVersion: 2 })).toBe(true);
    });

    it('delete reports whether the key existed', async () => {
      const kv = h.store.kv('app');
      await kv.set('a', 1);
      expect(await kv.delete('a')).toBe(true);
      expect(await kv.delete('a')).toBe(false);
      expect(await kv.get('a')).toBeNull();
    });

    it('size is the stored UTF-8 byte length', async () => {
      const kv = h.store.kv('app');
      await kv.set('a', 'é');
      expect(await kv.size('a')).toBe(4); // "é" with quotes: 1 + 2 + 1
      expect(await kv.size('b')).toBeNull();
    });

    it('expires keys after their ttl, everywhere', async () => {
      const kv = h.store.kv('app');
      await kv.set('t', 'token', { ttl: '10m' });
      await kv.set('p', 'plain');
      const entry = await kv.getEntry('t');
      expect(entry!.expiresAt!.getTime()).toBe(h.clock.now + 600_000);
      h.clock.advance(599_999);
      expect(await kv.get('t')).toBe('token');
      h.clock.advance(1);
      expect(await kv.get('t')).toBeNull();
      expect(await kv.has('t')).toBe(false);
      expect(await kv.getMany(['t', 'p'])).toEqual([null, 'plain']);
      expect(await kv.list()).toEqual(['p']);
      expect(await kv.count()).toBe(1);
      expect(await kv.delete('t')).toBe(false);
      expect((await kv.set('t', 'again', { ifVersion: 0 })).version).toBe(1);
      await kv.set('n', 1, { ttl: 1000 });
      h.clock.advance(1000);
      expect(await h.store.driver.purgeExpired(h.clock.now)).toBeGreaterThanOrEqual(1);
      expect(await kv.get('n')).toBeNull();
    });

    it('rejects bad ttl values', async () => {
      const kv = h.store.kv('app');
      await expectCode(kv.set('a', 1, { ttl: '10 minutes' as never }), 'BAD_INPUT');
      await expectCode(kv.set('a', 1, { ttl: -5 }), 'BAD_INPUT');
      expect(await kv.has('a')).toBe(false);
    });

    it('lists keys in code point order with prefix, limit and after', async () => {
      const kv = h.store.kv('app');
      const keys = ['b', 'a', 'tasks:2', 'tasks:10', 'tasks:1', 'Z', 'é', '😀', '\uffff', 'a:b'];
      for (const key of keys) await kv.set(key, key);
      const expected = [...keys].sort(byCodePoint);
      expect(await kv.list()).toEqual(expected);
      expect(await kv.list({ prefix: 'tasks:' })).toEqual(['tasks:1', 'tasks:10', 'tasks:2']);
      expect(await kv.list({ prefix: 'tasks:', limit: 2 })).toEqual(['tasks:1', 'tasks:10']);
      expect(await kv.list({ prefix: 'tasks:', after: 'tasks:10' })).toEqual(['tasks:2']);
      expect(await kv.list({ limit: 0 })).toEqual([]);
      expect(await kv.count({ prefix: 'tasks:' })).toBe(3);
    });

    it('keeps namespaces apart', async () => {
      await h.store.kv('one').set('k', 1);
      await h.store.kv('two').set('k', 2);
      expect(await h.store.kv('one').get('k')).toBe(1);
      expect(await h.store.kv('two').list()).toEqual(['k']);
      expect(await h.store.kv('one').clear()).toBe(1);
      expect(await h.store.kv('two').get('k')).toBe(2);
    });

    it('iterates entries page by page in key order', async () => {
      const kv = h.store.kv<number>('many');
      const entries: Array<[string, number]> = [];
      for (let i = 0; i < 1234; i++) entries.push([`k${String(i).padStart(5, '0')}`, i]);
      await kv.setMany(entries);
      const seen: Array<[string, number]> = [];
      for await (const entry of kv.entries()) seen.push(entry);
      expect(seen).toEqual(entries);
      let n = 0;
      for await (const _ of kv.entries({ prefix: 'k001' })) n++;
      expect(n).toBe(100);
    });

    it('getMany keeps the order asked; setMany is all or nothing', async () => {
      const kv = h.store.kv('app');
      await kv.setMany([
        ['a', 1],
        ['b', 2],
      ]);
      expect(await kv.getMany(['b', 'x', 'a'])).toEqual([2, null, 1]);
      await expectCode(
        kv.setMany([
          ['c', 3],
          ['d', () => 1],
        ]),
        'BAD_INPUT',
      );
      await expectCode(
        kv.setMany([
          ['c', 3],
          ['', 4],
        ]),
        'BAD_INPUT',
      );
      expect(await kv.has('c')).toBe(false);
      await kv.setMany([]);
    });

    it('setMany numbers versions, keeps createdAt and restarts expired keys like set', async () => {
      const kv = h.store.kv('app');
      await kv.set('live', 1);
      await kv.set('old', 1, { ttl: 1000 });
      const created = h.clock.now;
      h.clock.advance(1000);
      await kv.setMany([
        ['live', 2],
        ['old', 2],
        ['new', 2],
        ['new', 3],
      ]);
      expect(await kv.getEntry('live')).toMatchObject({ value: 2, version: 2, createdAt: new Date(created), expiresAt: null });
      expect(await kv.getEntry('old')).toMatchObject({ value: 2, version: 1, createdAt: new Date(h.clock.now), expiresAt: null });
      expect(await kv.getEntry('new')).toMatchObject({ value: 3, version: 2 });
      await kv.setMany([['live', 3]], { ttl: '1m' });
      expect((await kv.getEntry('live'))!.expiresAt!.getTime()).toBe(h.clock.now + 60_000);
    });

    it('take hands a value to exactly one caller', async () => {
      const kv = h.store.kv('app');
      await kv.set('otp', '123456');
      const results = await Promise.all(Array.from({ length: 10 }, () => kv.take('otp')));
      expect(results.filter((r) => r === '123456')).toHaveLength(1);
      expect(await kv.get('otp')).toBeNull();
      expect(await kv.take('otp')).toBeNull();
    });

    it('incr is atomic under concurrency and refuses non-numbers', async () => {
      const kv = h.store.kv('app');
      const results = await Promise.all(Array.from({ length: 50 }, () => kv.incr('n')));
      expect(await kv.get('n')).toBe(50);
      expect(new Set(results).size).toBe(50);
      expect(await kv.incr('n', -10)).toBe(40);
      expect(await kv.incr('m', 2.5)).toBe(2.5);
      await kv.set('s', 'text');
      await expectCode(kv.incr('s'), 'BAD_INPUT');
      await expectCode(kv.incr('n', Number.NaN), 'BAD_INPUT');
      expect(await kv.get('n')).toBe(40);
    });

    it('update is an atomic read-modify-write', async () => {
      const kv = h.store.kv<string[]>('app');
      await Promise.all(Array.from({ length: 30 }, (_, i) => kv.update('list', (old) => [...(old ?? []), `i${i}`])));
      const list = await kv.get('list');
      expect(list).toHaveLength(30);
      expect(new Set(list).size).toBe(30);
      await expectCode(
        kv.update('list', () => undefined as never),
        'BAD_INPUT',
      );
      expect(await kv.get('list')).toHaveLength(30);
    });

    it("an updater's own error is passed on as thrown, and nothing is written", async () => {
      const kv = h.store.kv<number>('app');
      await kv.set('u', 1);
      class Mine extends Error {}
      const thrown = new Mine('mine');
      const failed = await kv
        .update('u', () => {
          throw thrown;
        })
        .catch((error: unknown) => error);
      expect(failed).toBe(thrown);
      const rejected = await kv.update('u', () => Promise.reject(thrown)).catch((error: unknown) => error);
      expect(rejected).toBe(thrown);
      expect(await kv.getEntry('u')).toMatchObject({ value: 1, version: 1 });
    });

    it('incr refuses a whole-number result past Number.MAX_SAFE_INTEGER and changes nothing', async () => {
      const kv = h.store.kv<number>('app');
      await kv.set('big', Number.MAX_SAFE_INTEGER - 1);
      expect(await kv.incr('big')).toBe(Number.MAX_SAFE_INTEGER);
      await expectCode(kv.incr('big'), 'BAD_INPUT');
      await expectCode(kv.incr('big', -2 * Number.MAX_SAFE_INTEGER - 2), 'BAD_INPUT');
      expect(await kv.getEntry('big')).toMatchObject({ value: Number.MAX_SAFE_INTEGER, version: 2 });
      expect(await kv.incr('big', -1)).toBe(Number.MAX_SAFE_INTEGER - 1);
    });

    it('keeps ttl across incr and update', async () => {
      const kv = h.store.kv('app');
      await kv.set('n', 1, { ttl: '1m' });
      await kv.incr('n');
      await kv.update('n', (v) => (v as number) * 10);
      h.clock.advance(60_000);
      expect(await kv.get('n')).toBeNull();
    });

    it('refuses bad keys and values with BAD_INPUT and changes nothing', async () => {
      const kv = h.store.kv('app');
      await kv.set('keep', 'me');
      const cycle: Record<string, unknown> = {};
      cycle.self = cycle;
      const proto = JSON.parse('{"__proto__": {"polluted": true}}') as unknown;
      const badValues: unknown[] = [
        () => 1,
        10n,
        cycle,
        undefined,
        Number.NaN,
        Infinity,
        [undefined],
        Symbol('x'),
        new Map(),
        proto,
        { nested: { fn: () => 1 } },
      ];
      for (const value of badValues) await expectCode(kv.set('keep', value), 'BAD_INPUT');
      const badKeys: unknown[] = ['', 'x'.repeat(1025), 'é'.repeat(513), 42, null, undefined, {}, '\ud800'];
      for (const key of badKeys) {
        await expectCode(kv.set(key as string, 1), 'BAD_INPUT');
        await expectCode(kv.get(key as string), 'BAD_INPUT');
        await expectCode(kv.delete(key as string), 'BAD_INPUT');
      }
      const where = await expectCode(kv.set('keep', { a: [1, 'two', { b: () => 1 }] }), 'BAD_INPUT');
      expect(where.details).toEqual({ path: 'value.a[2].b' });
      await kv.set('x'.repeat(1024), 'max');
      expect(await kv.get('x'.repeat(1024))).toBe('max');
      await expectCode(kv.list({ prefix: 5 as never }), 'BAD_INPUT');
      await expectCode(kv.list({ limit: -1 }), 'BAD_INPUT');
      await expectCode(kv.set('keep', 1, { ifVersion: 1.5 }), 'BAD_INPUT');
      expect(await kv.getEntry('keep')).toMatchObject({ value: 'me', version: 1 });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      await expectCode(async () => h.store.kv('bad name!'), 'BAD_INPUT');
      await expectCode(async () => kv.watch(42 as never), 'BAD_INPUT');
      await expectCode(kv.update('keep', 'not a function' as never), 'BAD_INPUT');
      await expectCode(kv.getMany('keep' as never), 'BAD_INPUT');
      await expectCode(kv.setMany([['a', 1, 2]] as never), 'BAD_INPUT');
      await expectCode(kv.list({ after: '' }), 'BAD_INPUT');
      await expectCode(kv.entries({ prefix: 1 as never }).next(), 'BAD_INPUT');
      await expectCode(kv.incr('n', '1' as never), 'BAD_INPUT');
      expect(await kv.list()).toEqual(['keep', 'x'.repeat(1024)]);
    });

    it('reports its own changes to watchers', async () => {
      const kv = h.store.kv('app');
      const seen: string[] = [];
      const stop = kv.watch((c) => seen.push(`${c.type}:${c.key}:${c.version}:${JSON.stringify(c.value ?? null)}`));
      await h.store.kv('other').set('x', 1);
      await kv.set('a', 1);
      await kv.delete('a');
      await new Promise((r) => setTimeout(r, 20));
      stop();
      await kv.set('b', 2);
      await new Promise((r) => setTimeout(r, 20));
      expect(seen).toEqual(['put:a:1:1', 'delete:a:null:null']);
    });

    it('refuses every call after close', async () => {
      const kv = h.store.kv('app');
      await kv.set('a', 1);
      await h.store.close();
      await h.store.close();
      await expectCode(kv.get('a'), 'CLOSED');
      await expectCode(kv.set('a', 2), 'CLOSED');
      await expectCode(async () => h.store.kv('app'), 'CLOSED');
      await expectCode(h.store.stats(), 'CLOSED');
    });
  });
}
