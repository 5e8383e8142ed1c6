// openStore({ clock }) takes a function returning epoch milliseconds; anything else is
// BAD_INPUT with a hint, checked before the clock is first called and before any file is created.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, StrataError } from '../../src/index.js';

describe('openStore: the clock option', () => {
  it('a clock that is not a function is BAD_INPUT, and no store is created', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-clock-'));
    try {
      for (const clock of [5, null, 'Date.now', {}]) {
        const error = await openStore({ url: `sqlite:${join(dir, 'x.db')}`, clock: clock as never }).catch((e: unknown) => e);
        expect.soft(error, String(clock)).toBeInstanceOf(StrataError);
        expect.soft((error as StrataError).code).toBe('BAD_INPUT');
        expect.soft((error as StrataError).hint).toContain('clock');
      }
      expect(existsSync(join(dir, 'x.db'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a function is the store clock', async () => {
    const store = await openStore({ url: 'memory:', clock: () => Date.parse('2030-01-01T00:00:00Z') });
    await store.kv('k').set('a', 1);
    expect((await store.kv('k').getEntry('a'))?.updatedAt.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    await store.close();
  });
});
