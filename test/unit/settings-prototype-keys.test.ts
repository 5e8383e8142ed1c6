// store.settings() and the names Object.prototype already has (`__proto__`, `constructor`,
// `toString`...): a settings key is an own property or nothing. No such name can be written
// past a schema that lacks it, read as an inherited function, or turn into a prototype that
// grants settings nobody set.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openStore, StrataError, type Store } from '../../src/index.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-settings-proto-'));
  store = await openStore({ url: `sqlite:${join(dir, 's.db')}`, sweepInterval: false });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The StrataError a promise rejects with (the test fails when it resolves or throws something else). */
async function refusal(p: Promise<unknown>): Promise<StrataError> {
  const error: unknown = await p.then(
    () => new Error('resolved'),
    (e: unknown) => e,
  );
  if (!StrataError.is(error)) throw new Error(`expected a StrataError, got ${String(error)}`);
  return error;
}

const Prefs = z.object({ theme: z.string(), isAdmin: z.boolean().optional() });

describe('settings with a schema: prototype names are keys the schema does not know', () => {
  it('set("__proto__", ...) is BAD_INPUT, writes nothing and grants no setting', async () => {
    const prefs = store.settings('prefs', { schema: Prefs, defaults: { theme: 'light' } });
    const error = await refusal(prefs.set('__proto__' as never, { isAdmin: true } as never));
    expect(error).toMatchObject({ code: 'BAD_INPUT', op: 'settings.set', details: { keys: ['__proto__'] } });
    expect(error.hint).toBe('check the spelling of the key, or add it to the schema');
    expect(await store.kv('prefs').list()).toEqual([]);
    expect(await prefs.get('isAdmin')).toBeUndefined();
    expect(await prefs.getAll()).toEqual({ theme: 'light' });
  });

  it.each(['toString', 'constructor', 'hasOwnProperty', 'valueOf'])(
    'set("%s") is BAD_INPUT, in both forms, nothing written',
    async (key) => {
      const prefs = store.settings('prefs', { schema: z.object({ theme: z.string() }), defaults: { theme: 'light' } });
      expect(await refusal(prefs.set(key as never, 'x' as never))).toMatchObject({ code: 'BAD_INPUT', op: 'settings.set' });
      expect(await refusal(prefs.set({ [key]: 'x' } as never))).toMatchObject({ code: 'BAD_INPUT', op: 'settings.set' });
      expect(await store.kv('prefs').list()).toEqual([]);
    },
  );

  it('a "__proto__" record already in the namespace grants no setting through the schema', async () => {
    await store.kv('prefs').set('__proto__', { isAdmin: true });
    const prefs = store.settings('prefs', { schema: Prefs, defaults: { theme: 'light' } });
    expect(await prefs.get('isAdmin')).toBeUndefined();
    expect(await prefs.getAll()).toEqual({ theme: 'light' });
  });
});

describe('settings: reads see own settings only', () => {
  it.each(['constructor', 'hasOwnProperty', 'toString', '__proto__'])(
    'get("%s") of a key never set is undefined',
    async (key) => {
      const plain = store.settings('plain', { defaults: { theme: 'light' } });
      const typed = store.settings('typed', { schema: Prefs, defaults: { theme: 'light' } });
      expect(await plain.get(key as never)).toBeUndefined();
      expect(await typed.get(key as never)).toBeUndefined();
    },
  );

  it('without a schema, a stored "__proto__" setting is an own value of getAll(), never its prototype', async () => {
    const prefs = store.settings('prefs', { defaults: { theme: 'light' } });
    await prefs.set('__proto__' as never, { isAdmin: true } as never);
    const all = (await prefs.getAll()) as Record<string, unknown>;
    expect(Object.getPrototypeOf(all)).toBe(Object.prototype);
    expect(all.isAdmin).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(all, '__proto__')?.value).toEqual({ isAdmin: true });
    expect(await prefs.get('__proto__' as never)).toEqual({ isAdmin: true });
    expect(await prefs.get('isAdmin' as never)).toBeUndefined();
  });
});
