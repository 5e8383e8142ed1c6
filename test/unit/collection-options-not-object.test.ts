// `store.collection(name, options)` with options that are not an object is BAD_INPUT, as
// `store.kv(name, options)` refuses them. Before the fix (audit test/audit-readme, finding 3)
// `null` was a TypeError ("Cannot read properties of null (reading 'quota')") and `[]` was
// taken as "no options". `undefined` and `{ key: undefined }` still mean no options.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError, type Store } from '../../src/index.js';

function refusal(f: () => unknown): StrataError {
  try {
    f();
  } catch (e) {
    if (e instanceof StrataError) return e;
    throw new Error(`not a StrataError: ${String(e)}`);
  }
  throw new Error('accepted');
}

describe('store.collection(name, options) with options that are not an object', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore({ url: 'memory:', sweepInterval: false });
  });
  afterEach(async () => {
    await store.close();
  });

  it.each([
    ['null', null],
    ['an array', []],
    ['an array with an element', [{ key: 'sku' }]],
    ['a string', 'id'],
    ['a number', 5],
    ['a function', () => ({})],
  ])('%s is BAD_INPUT naming store.collection, like store.kv', (_label, options) => {
    const e = refusal(() => store.collection('tasks', options as never));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.op).toBe('store.collection');
    expect(e.message).toMatch(/store\.collection: options must be an object/);
    expect(refusal(() => store.kv('tasks', options as never)).code).toBe('BAD_INPUT');
  });

  it('nothing is declared by the refused call: the collection is then declared as usual', async () => {
    refusal(() => store.collection('tasks', null as never));
    refusal(() => store.collection('tasks', [] as never));
    const tasks = store.collection('tasks', { key: 'sku', indexes: ['status'] });
    await tasks.insert({ sku: 's1', status: 'open' });
    expect(await store.describe('tasks')).toEqual({ key: 'sku', indexes: ['status'], timestamps: false, ttl: null });
  });

  it('undefined and an object of undefined options still mean "no options"', async () => {
    await store.collection('a', undefined).insert({ id: 'x' });
    await store.collection('b', { key: undefined }).insert({ id: 'y' });
    expect(await store.collection('a').get('x')).toEqual({ id: 'x' });
    expect(await store.collection('b').get('y')).toEqual({ id: 'y' });
  });
});
