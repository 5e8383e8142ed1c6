import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openStore, StrataError } from '../../src/index.js';
import { sqliteDriver } from '../../src/drivers/sqlite.js';
import { fileDriver } from '../../src/drivers/file/index.js';
import { codeOf } from '../store-fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-probe-opts-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The error code of opening (and closing) a store, 'OK' when it opens; factories may throw at once. */
function opened(open: () => Promise<{ close(): Promise<void> }>): Promise<string> {
  return codeOf(async () => (await open()).close());
}

describe('store URL durability', () => {
  // README.md:972-974 "`openStore({ durability })`, or `?durability=` in the URL:
  //   - 'full' (default) ... - 'normal' ..."; an invalid value is refused (`?durability=fast`
  // is BAD_INPUT, src/drivers/registry.ts:170), and README.md:986-987 "A URL parameter a
  // backend does not know is refused with BAD_INPUT, so a typo ... cannot silently leave you
  // on the default."
  it('a second, invalid ?durability= value is refused rather than silently ignored', async () => {
    const alone = await opened(() => openStore({ url: `sqlite:${join(dir, 'a.db')}?durability=fast`, sweepInterval: false }));
    expect(alone, 'alone').toBe('BAD_INPUT');
    // The same invalid value after a valid one is not even looked at.
    const second = await opened(() =>
      openStore({ url: `sqlite:${join(dir, 'b.db')}?durability=full&durability=fast`, sweepInterval: false }),
    );
    expect(second, 'after ?durability=full').toBe('BAD_INPUT');
  });
});

describe('sqliteDriver durability', () => {
  // src/drivers/sqlite.ts:44-48 "'full': an acknowledged write survives power loss
  // (synchronous=FULL). 'normal': ... durability?: 'full' | 'normal'"; README.md:972-974.
  // fileDriver refuses any other value with BAD_INPUT (src/drivers/file/index.ts:82); the
  // sqlite driver takes 'FULL' (or any typo) and silently runs synchronous=NORMAL
  // (src/drivers/sqlite-schema.ts:222).
  it("sqliteDriver({ durability: 'FULL' }) is BAD_INPUT, as fileDriver's is", async () => {
    expect(
      await opened(() =>
        openStore({ driver: fileDriver({ dir: join(dir, 'f'), durability: 'FULL' as never }), sweepInterval: false }),
      ),
      'fileDriver',
    ).toBe('BAD_INPUT');
    expect(
      await opened(() =>
        openStore({ driver: sqliteDriver({ path: join(dir, 's.db'), durability: 'FULL' as never }), sweepInterval: false }),
      ),
      'sqliteDriver',
    ).toBe('BAD_INPUT');
  });
});

describe('Settings and a schema that knows its keys', () => {
  // README.md:143-147 "every `set` checks the settings ... a key the schema does not know is
  // `BAD_INPUT`. A stored value that no longer fits (an older app version wrote it) makes
  // `get`/`getAll` fail with `VALIDATION_FAILED` naming it in `details.keys`"
  it('with a strict schema, set of an unknown key is BAD_INPUT naming it', async () => {
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      const prefs = store.settings('prefs', { schema: z.strictObject({ theme: z.string() }), defaults: { theme: 'light' } });
      const error = await prefs.set('tehme' as never, 'dark' as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StrataError);
      expect((error as StrataError).code, (error as Error).message).toBe('BAD_INPUT');
    } finally {
      await store.close();
    }
  });

  it('with a strict schema, a stored key an older version wrote is named in details.keys', async () => {
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      await store.kv('prefs').set('legacyColour', 'red'); // written by an older app version
      const prefs = store.settings('prefs', { schema: z.strictObject({ theme: z.string() }), defaults: { theme: 'light' } });
      const error = await prefs.getAll().catch((e: unknown) => e);
      expect((error as StrataError).code).toBe('VALIDATION_FAILED');
      expect((error as StrataError).details?.keys, (error as Error).message).toEqual(['legacyColour']);
    } finally {
      await store.close();
    }
  });
});
