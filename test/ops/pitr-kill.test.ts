// A point-in-time restore SIGKILLed at moments spread over it (sqlite, file): the store is left
// wholly as it was or wholly at the restored point in time, never a mix; verify (journal
// included) is clean, and the journal goes on numbering from where the store stands.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fixture, LineChild, sleep, strata, tempDir } from '../reliability/helpers.js';
import { entries, rawDriver } from './journal-helpers.js';

let dir: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('pitr-kill');
});
afterEach(async () => {
  await dir.dispose();
});

describe.each(['sqlite', 'file'])('a point-in-time restore killed at any moment (SIGKILL, %s)', (kind) => {
  it('leaves the whole old state or the whole state at toTime, verify clean', async () => {
    const pristine = join(dir.path, 'pristine');
    const work = join(dir.path, 'work');
    const backups = join(dir.path, 'backups');
    const urlOf = (root: string) =>
      kind === 'sqlite' ? `sqlite:${join(root, 'app.db')}?durability=normal` : `file:${join(root, 'app')}?durability=normal`;
    const N = 5_000;
    const fill = (v: string) => Array.from({ length: N }, (_, i) => [`k${i}`, { v, i }] as [string, unknown]);
    let toTime: number;
    {
      const store = await strata.openStore({ url: urlOf(pristine), sweepInterval: false, journal: { retention: '7d' } });
      await store.kv('a').setMany(fill('old'));
      await store.backup({ to: backups });
      await sleep(3);
      await store.kv('a').setMany(fill('mid'));
      await sleep(3);
      toTime = Date.now();
      await sleep(3);
      await store.kv('a').setMany(fill('new'));
      await store.close();
    }
    const round = async (kill: number | 'done' | null): Promise<{ finished: boolean; ms: number }> => {
      await rm(work, { recursive: true, force: true });
      await cp(pristine, work, { recursive: true });
      const child = new LineChild(fixture('pitr-restorer.mjs'), [urlOf(work), backups, String(toTime)]);
      await child.waitFor('R', 30_000);
      const started = Date.now();
      if (kill === null || kill === 'done') await child.waitFor('D', 30_000);
      else await sleep(kill);
      if (kill !== null) child.kill();
      await child.exit(30_000);
      return { finished: child.lines.includes('D'), ms: Date.now() - started };
    };
    const whole = await round(null);
    expect(whole.finished).toBe(true);
    const states = new Set<string>();
    for (const fraction of [0, 0.25, 0.5, 0.75, 1, 'done'] as const) {
      await round(fraction === 'done' ? 'done' : Math.round(whole.ms * fraction));
      const store = await strata.openStore({ url: urlOf(work), sweepInterval: false });
      try {
        const seen = new Set<string>();
        let n = 0;
        for await (const [, value] of store.kv<{ v: string }>('a').entries()) {
          seen.add(value.v);
          n++;
        }
        expect(n).toBe(N);
        expect(seen.size, `kill at ${fraction} of the restore`).toBe(1);
        const state = [...seen][0]!;
        expect(['new', 'mid']).toContain(state);
        states.add(state);
        expect((await store.verify()).ok).toBe(true);
        const raw = rawDriver(store);
        const before = (await raw.scan('meta.journal', {}, Date.now())).length;
        expect(before).toBe(state === 'mid' ? 2 * N : 3 * N);
        await store.kv('a').set('next', 1);
        const newest = (await raw.scan('meta.journal', {}, Date.now())).at(-1)!;
        expect(entries.parseEntry(newest.key, newest.value)).toMatchObject({ seq: before + 1, key: 'next' });
      } finally {
        await store.close();
      }
    }
    expect(states).toEqual(new Set(['new', 'mid']));
  }, 90_000);
});
