// store.settings(): a typed settings object over a kv namespace (conf / electron-store style).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { openStore, StrataError, type Store } from '../../src/index.js';

const Prefs = z.object({
  theme: z.enum(['light', 'dark']),
  zoom: z.number().min(0.5).max(3),
  recent: z.array(z.string()).max(3),
  proxy: z.string().url().optional(),
});
const defaults = { theme: 'light', zoom: 1, recent: [] } as const;

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-settings-'));
  store = await openStore(`sqlite:${join(dir, 's.db')}`);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    if (error instanceof StrataError) return error.code;
    throw error;
  }
  return 'resolved';
}

describe('settings', () => {
  it('is typed by its schema and fills defaults', async () => {
    const prefs = store.settings('prefs', { schema: Prefs, defaults: { ...defaults, recent: [] } });
    expectTypeOf(await prefs.get('zoom')).toEqualTypeOf<number>();
    expectTypeOf(await prefs.getAll()).toEqualTypeOf<z.infer<typeof Prefs>>();
    expect(await prefs.getAll()).toEqual({ theme: 'light', zoom: 1, recent: [] });
    await prefs.set('theme', 'dark');
    await prefs.set({ zoom: 1.5, recent: ['a.txt'] });
    expect(await prefs.getAll()).toEqual({ theme: 'dark', zoom: 1.5, recent: ['a.txt'] });
    expect(await prefs.has('proxy')).toBe(false);
  });

  it('checks every write against the whole object; nothing is written on failure', async () => {
    const prefs = store.settings('prefs', { schema: Prefs, defaults: { ...defaults, recent: [] } });
    expect(await code(prefs.set('zoom', 9))).toBe('VALIDATION_FAILED');
    expect(await code(prefs.set({ theme: 'dark', zoom: 0 }))).toBe('VALIDATION_FAILED');
    expect(await code(prefs.set('theme' as never, 'blue' as never))).toBe('VALIDATION_FAILED');
    // A key the schema does not know (a typo) is refused, not silently dropped.
    expect(await code(prefs.set('thme' as never, 'dark' as never))).toBe('BAD_INPUT');
    expect(await store.kv('prefs').count()).toBe(0);
  });

  it('a stored value that no longer fits the schema names its key; reset fixes it', async () => {
    await store.kv('prefs').set('zoom', 42);
    const prefs = store.settings('prefs', { schema: Prefs, defaults: { ...defaults, recent: [] } });
    const error = await prefs.getAll().catch((e: unknown) => e as StrataError);
    expect((error as StrataError).code).toBe('VALIDATION_FAILED');
    expect((error as StrataError).details?.keys).toEqual(['zoom']);
    await prefs.reset('zoom');
    expect(await prefs.get('zoom')).toBe(1);
  });

  it('refuses unknown options and bad defaults', () => {
    expect(() => store.settings('p', { defualts: {} } as never)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => store.settings('p', { defaults: [] as never })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => store.settings('p', { schema: {} as never })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });

  it('survives a reopen and watches changes, reporting defaults after reset', async () => {
    const prefs = store.settings('prefs', { defaults: { theme: 'light' } });
    const seen: unknown[] = [];
    const stop = prefs.watch((change) => seen.push(change));
    await prefs.set('theme', 'dark');
    await prefs.reset('theme');
    await new Promise((r) => setTimeout(r, 50));
    stop();
    expect(seen).toEqual([
      { type: 'change', key: 'theme', value: 'dark', origin: 'local' },
      { type: 'change', key: 'theme', value: 'light', origin: 'local' },
    ]);
    await prefs.set('theme', 'dark');
    await store.close();
    store = await openStore(`sqlite:${join(dir, 's.db')}`);
    expect(await store.settings('prefs', { defaults: { theme: 'light' } }).get('theme')).toBe('dark');
  });

  it('watch reports a reset key with the default the schema gives, as get() returns it', async () => {
    const prefs = store.settings('prefs', {
      schema: z.object({ theme: z.enum(['light', 'dark']).default('light'), zoom: z.number().default(1) }),
    });
    const seen: unknown[] = [];
    const stop = prefs.watch((change) => seen.push(change));
    await prefs.set({ theme: 'dark', zoom: 2 });
    await prefs.reset(['theme', 'zoom']);
    await new Promise((r) => setTimeout(r, 50));
    stop();
    expect(await prefs.get('theme')).toBe('light');
    expect(seen.slice(-2)).toEqual([
      { type: 'change', key: 'theme', value: 'light', origin: 'local' },
      { type: 'change', key: 'zoom', value: 1, origin: 'local' },
    ]);
  });
});

describe('kv.get default typing', () => {
  it('returns V | D with a default', async () => {
    const kv = store.kv<number>('n');
    expectTypeOf(await kv.get('a', { default: 0 })).toEqualTypeOf<number>();
    expectTypeOf(await kv.get('a')).toEqualTypeOf<number | null>();
    expect(await kv.get('a', { default: 0 })).toBe(0);
  });
});
