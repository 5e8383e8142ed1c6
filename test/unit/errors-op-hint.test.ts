// README "Errors": "Every failure you can act on is a `StrataError` with a stable `code`, the
// failed `op`, a `hint` that says what to do"; "Collections": "an unknown option anywhere ...
// or an option of the wrong type is `BAD_INPUT`"; "Key-value namespaces": values (and so the
// `{ default }` a get hands out in place of one) are what JSON reads back unchanged.
// Moved from test/audit-readme/errors-op-hint-options.test.ts (audit findings 4, 5 and 6) and
// the audit's note on `kv.get(k, { default: NaN })`. Each case failed before its fix (the
// refusal had no `op` or no `hint`, `null` was taken as "use the default", or the NaN default
// was handed out), except those marked "guard", which held and keep the fix from overreaching.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError, type Store } from '../../src/index.js';
import { DRIVERS, opened, type Opened } from '../store-fixture.js';

async function refusal(f: () => unknown): Promise<StrataError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof StrataError) return e;
    throw new Error(`not a StrataError: ${String(e)}`);
  }
  throw new Error('resolved');
}

describe('every refusal names its op', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore({ url: 'memory:', sweepInterval: false });
  });
  afterEach(async () => {
    await store.close();
  });

  const cases: Array<[string, string, (s: Store) => unknown]> = [
    ['store.kv with a bad name', 'store.kv', (s) => s.kv('a b')],
    ['store.collection with a bad name', 'store.collection', (s) => s.collection('a b')],
    ['store.settings with a bad name', 'store.settings', (s) => s.settings('a b')],
    ['tx.kv with a bad name', 'tx.kv', (s) => s.transaction(async (tx) => tx.kv('a b'))],
    ['kv.watch with a listener that is not a function', 'kv.watch', (s) => s.kv('a').watch(5 as never)],
    ['collection.watch with a listener that is not a function', 'collection.watch', (s) => s.collection('c').watch(5 as never)],
    ['openStore with an unknown option', 'openStore', () => openStore({ url: 'memory:', nope: 1 } as never)],
    ['openStore with a clock that is not a function', 'openStore', () => openStore({ url: 'memory:', clock: 5 } as never)],
    ['openStore with cache (UNSUPPORTED)', 'openStore', () => openStore({ url: 'memory:', cache: {} } as never)],
    ['openStore with an unknown URL parameter', 'openStore', () => openStore('memory:?durabilty=normal')],
    ['openStore with a bad sweepInterval', 'openStore', () => openStore({ url: 'memory:', sweepInterval: 'soon' } as never)],
    ['openStore with a bad appName', 'openStore', () => openStore({ appName: '..' })],
  ];
  it.each(cases)('%s', async (_label, op, f) => {
    const e = await refusal(() => f(store));
    expect(e.op, e.message).toBe(op);
  });

  it('guard: a name refused inside another call keeps that call as its op (store.describe)', async () => {
    const e = await refusal(() => store.describe('a b'));
    expect(e.op).toBe('store.describe');
  });
});

describe('every refusal carries a hint', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore({ url: 'memory:', sweepInterval: false });
  });
  afterEach(async () => {
    await store.close();
  });

  // [label, op, the message as before (the hint is appended to it in parentheses), call]
  const cases: Array<[string, string, string, (s: Store) => unknown]> = [
    ['kv.set of an empty key', 'kv.set', 'kv.set: key must not be empty', (s) => s.kv('a').set('', 1)],
    [
      'kv.set of a key with a lone surrogate',
      'kv.set',
      'kv.set: key contains a lone UTF-16 surrogate',
      (s) => s.kv('a').set('\uD800', 1),
    ],
    [
      'kv.set of a key that is not a string',
      'kv.set',
      'kv.set: key must be a string, got number',
      (s) => s.kv('a').set(5 as never, 1),
    ],
    [
      'kv.list with after holding a lone surrogate',
      'kv.list',
      'kv.list: key contains a lone UTF-16 surrogate',
      (s) => s.kv('a').list({ after: '\uD800' }),
    ],
    [
      'collection.get of an empty key',
      'collection.get',
      'collection.get: key must not be empty',
      (s) => s.collection('c').get(''),
    ],
    ['kv.incr by NaN', 'kv.incr', 'kv.incr: the increment must be a finite number', (s) => s.kv<number>('a').incr('n', NaN)],
    [
      'kv.update with an updater that is not a function',
      'kv.update',
      'kv.update: the updater must be a function',
      (s) => s.kv('a').update('n', 5 as never),
    ],
    [
      'kv.getMany of something that is not an array',
      'kv.getMany',
      'kv.getMany: keys must be an array',
      (s) => s.kv('a').getMany('x' as never),
    ],
    [
      'kv.deleteMany of something that is not an array',
      'kv.deleteMany',
      'kv.deleteMany: keys must be an array',
      (s) => s.kv('a').deleteMany('x' as never),
    ],
    [
      'kv.setMany of something that is not an array',
      'kv.setMany',
      'kv.setMany: entries must be an array of [key, value]',
      (s) => s.kv('a').setMany('x' as never),
    ],
    [
      'kv.setMany with an entry that is not a pair',
      'kv.setMany',
      'kv.setMany: each entry must be a [key, value] pair',
      (s) => s.kv('a').setMany([['a']] as never),
    ],
    [
      'kv.set with options that are not an object',
      'kv.set',
      'kv.set: options must be an object',
      (s) => s.kv('a').set('k', 1, 5 as never),
    ],
    [
      'kv.drop with options that are not an object',
      'kv.drop',
      'kv.drop: options must be an object',
      (s) => s.kv('a').drop(5 as never),
    ],
    [
      'collection.query with options that are not an object',
      'collection.query',
      'collection.query: options must be an object',
      (s) => s.collection('c').query({}, 5 as never),
    ],
    [
      'store.kv with options that are not an object',
      'store.kv',
      'store.kv: options must be an object',
      (s) => s.kv('a', [] as never),
    ],
    [
      'kv.watch with a listener that is not a function',
      'kv.watch',
      'kv.watch: listener must be a function',
      (s) => s.kv('a').watch(5 as never),
    ],
    [
      'collection.watch with a listener that is not a function',
      'collection.watch',
      'collection.watch: listener must be a function',
      (s) => s.collection('c').watch(5 as never),
    ],
    [
      'store.transaction without a function',
      'store.transaction',
      'store.transaction needs a function',
      (s) => s.transaction(5 as never),
    ],
    [
      'collection.dedupe with a bad by',
      'collection.dedupe',
      'collection.dedupe: "by" must be a field path or a non-empty array of them',
      (s) => s.collection('c').dedupe({ by: [] }),
    ],
    [
      'collection.dedupe with a bad keep',
      'collection.dedupe',
      "collection.dedupe: keep must be 'newest', 'oldest', { newest: field } or { oldest: field }",
      (s) => s.collection('c').dedupe({ keep: 'last' } as never),
    ],
  ];
  it.each(cases)('%s', async (_label, op, message, f) => {
    const e = await refusal(() => f(store));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.op).toBe(op);
    expect(e.hint, e.message).toEqual(expect.stringMatching(/\S/));
    // Only the hint is new: the message is what it was, with the hint after it.
    expect(e.message).toBe(`${message} (${e.hint})`);
  });

  it('kv.incr whose sum overflows says so, and leaves the value alone', async () => {
    const kv = store.kv<number>('a');
    await kv.set('n', Number.MAX_VALUE);
    const e = await refusal(() => kv.incr('n', Number.MAX_VALUE));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.hint).toMatch(/\S/);
    expect(await kv.get('n')).toBe(Number.MAX_VALUE);
  });

  it('watch inside a transaction is UNSUPPORTED with its op and a hint', async () => {
    const e = await refusal(() => store.transaction(async (tx) => tx.kv('a').watch(() => {})));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.op).toBe('kv.watch');
    expect(e.hint).toMatch(/outside the transaction/);
  });

  it('openStore refusals that had none carry one', async () => {
    for (const f of [
      () => openStore(5 as never),
      () => openStore({ url: 'memory:', durability: 'fast' } as never),
      () => openStore({ url: 5 } as never),
      () => openStore('memory:?durability=fast'),
      () => openStore('sqlite::memory:?mmap=lots'),
    ]) {
      const e = await refusal(f);
      expect(e.code).toBe('BAD_INPUT');
      expect(e.op).toBe('openStore');
      expect(e.hint, e.message).toMatch(/\S/);
    }
  });
});

describe.each(DRIVERS)('null for an option is a wrong type, BAD_INPUT (%s)', (driver) => {
  // kv.list({ limit: null }), kv.set(k, v, { ttl: null }) and collection.keys({ limit: null })
  // were BAD_INPUT already; these took null as "the default".
  let o: Opened | undefined;
  afterEach(async () => {
    await o?.dispose();
    o = undefined;
  });

  it('dedupe({ by: null }), dedupe({ keep: null }), iterate({}, { pageSize: null }), page({}, { limit: null })', async () => {
    o = await opened(driver);
    const c = o.store.collection('c');
    await c.insertMany([
      { id: 'a', g: 1 },
      { id: 'b', g: 1 },
    ]);
    expect((await refusal(() => c.dedupe({ by: null } as never))).code).toBe('BAD_INPUT');
    expect((await refusal(() => c.dedupe({ keep: null } as never))).code).toBe('BAD_INPUT');
    const walk = async (): Promise<void> => {
      for await (const _ of c.iterate({}, { pageSize: null } as never)) void _;
    };
    expect((await refusal(walk)).code).toBe('BAD_INPUT');
    expect((await refusal(() => c.page({}, { limit: null } as never))).code).toBe('BAD_INPUT');
    // Nothing was deleted by the refused dedupes; a left-out option still takes its default.
    expect(await c.count({})).toBe(2);
    expect((await c.page({}, {})).items).toHaveLength(2);
  });

  it("store.import(path, { mode: null }) is refused, not taken as 'merge'", async () => {
    o = await opened(driver);
    await o.store.kv('a').set('k', 1);
    const file = join(o.dir, 'x.strata');
    await o.store.export(file);
    await o.store.kv('a').set('k', 2);
    expect((await refusal(() => o!.store.import(file, { mode: null } as never))).code).toBe('BAD_INPUT');
    expect(await o.store.kv('a').get('k')).toBe(2);
  });

  it('store.transaction(fn, { retries: null })', async () => {
    o = await opened(driver);
    const e = await refusal(() => o!.store.transaction(async () => 1, { retries: null } as never));
    expect(e.code).toBe('BAD_INPUT');
  });
});

describe('openStore options of the wrong type', () => {
  let dir: string;
  let cwd: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'strata-op-hint-'));
    cwd = process.cwd();
  });
  afterEach(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['durability: null', { url: 'memory:', durability: null }],
    ['sweepInterval: null', { url: 'memory:', sweepInterval: null }],
    ['driver: null', { driver: null }],
    ['env: null', { appName: 'app', env: null }],
  ])('%s is BAD_INPUT', async (_label, options) => {
    const e = await refusal(async () => {
      const s = await openStore(options as never);
      await s.close();
    });
    expect(e.code).toBe('BAD_INPUT');
    expect(e.op).toBe('openStore');
  });

  it('url: null is BAD_INPUT, not the default store (nothing is created)', async () => {
    process.chdir(dir);
    const e = await refusal(() => openStore({ url: null, sweepInterval: false } as never));
    expect(e.code).toBe('BAD_INPUT');
    expect(existsSync(join(dir, '.strata'))).toBe(false);
  });
});

describe('kv.get(k, { default }) follows the value rules', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore({ url: 'memory:', sweepInterval: false });
  });
  afterEach(async () => {
    await store.close();
  });

  it('a default that cannot be stored (NaN, undefined in an array, a Map) is BAD_INPUT, the key absent or not', async () => {
    const kv = store.kv('a');
    for (const bad of [NaN, Infinity, [undefined], { a: NaN }, new Map()]) {
      const absent = await refusal(() => kv.get('missing', { default: bad }));
      expect(absent.code).toBe('BAD_INPUT');
      expect(absent.op).toBe('kv.get');
      expect(absent.hint).toMatch(/\S/);
      expect(absent.message).toMatch(/^kv\.get: the default is not a value the store could hold/);
      expect((await refusal(() => kv.getMany(['missing'], { default: bad }))).op).toBe('kv.getMany');
    }
    await kv.set('here', 1);
    expect((await refusal(() => kv.get('here', { default: NaN }))).code).toBe('BAD_INPUT');
  });

  it('guard: a good default is handed out as it was given (the same object), null included', async () => {
    const kv = store.kv('a');
    const fallback = { theme: 'dark', at: [1, 2] };
    expect(await kv.get('missing', { default: fallback })).toBe(fallback);
    expect(await kv.getMany(['missing'], { default: fallback })).toEqual([fallback]);
    expect(await kv.get('missing', { default: null })).toBeNull();
    expect(await kv.get('missing', { default: 14 })).toBe(14);
  });

  it('guard: a namespace default of NaN is refused as well (it was already)', () => {
    expect(() => store.kv('b', { defaults: { n: NaN } })).toThrow(StrataError);
  });
});
