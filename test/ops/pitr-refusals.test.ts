// Refusals of a point-in-time restore say what is wrong and what to do: on a store without a
// journal every toTime (a date) is NOT_FOUND saying so, before any backup or time is looked
// at; hints name the API option and the CLI's (`toTime` / `--to-time`), as every hint does
// where the fix is an option (README "CLI"; docs/journal.md "Point-in-time restore").
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError } from '../../src/index.js';
import { errorOf } from '../store-fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-pitr-refusals-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('toTime on a store that keeps no journal', () => {
  it('is NOT_FOUND whatever the toTime (before the backup, now, in the future, from a directory), saying the store keeps no journal', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'plain.db')}`, sweepInterval: false });
    try {
      await store.kv('a').set('x', 1);
      const to = join(dir, 'b');
      const backup = await store.backup({ to });
      await new Promise((r) => setTimeout(r, 5));
      const seen: Record<string, string> = {};
      for (const [what, ref, toTime] of [
        ['a minute before the backup', backup.path, new Date(backup.at.getTime() - 60_000)],
        ['now', backup.path, new Date()],
        ['an hour ahead', backup.path, new Date(Date.now() + 3_600_000)],
        ['a directory with no backup that early', to, new Date(backup.at.getTime() - 60_000)],
      ] as const) {
        const e = await errorOf(store.restore(ref, { toTime }));
        seen[what] = typeof e === 'string' ? e : `${e.code}: ${e.message} (hint: ${e.hint})`;
      }
      for (const [what, text] of Object.entries(seen)) {
        expect(text, what).toMatch(/^NOT_FOUND: /);
        expect(text, what).toMatch(/keeps no (change )?journal/);
        expect(text, what).toMatch(/--to-time/);
      }
      expect(await store.kv('a').get('x')).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe('hints of point-in-time refusals', () => {
  it('a toTime in the future, before the backup, or before every backup of a directory: the hint names --to-time too', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'j.db')}`, journal: { retention: '7d' }, sweepInterval: false });
    try {
      await store.kv('a').set('x', 1);
      const to = join(dir, 'b');
      const backup = await store.backup({ to });
      const before = new Date(backup.at.getTime() - 60_000);
      const hints: Record<string, string | undefined> = {};
      for (const [what, ref, toTime, code] of [
        ['future', backup.path, new Date(Date.now() + 3_600_000), 'BAD_INPUT'],
        ['before the backup', backup.path, before, 'BAD_INPUT'],
        ['before every backup of a directory', to, before, 'NOT_FOUND'],
      ] as const) {
        const e = await errorOf(store.restore(ref, { toTime }));
        expect(e, what).toBeInstanceOf(StrataError);
        expect((e as StrataError).code, what).toBe(code);
        hints[what] = (e as StrataError).hint;
      }
      for (const [what, hint] of Object.entries(hints)) {
        expect(hint, `${what}: ${hint}`).toMatch(/toTime/);
        expect(hint, `${what}: ${hint}`).toMatch(/--to-time/);
      }
      expect(await store.kv('a').get('x')).toBe(1);
    } finally {
      await store.close();
    }
  });
});
