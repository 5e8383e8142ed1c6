// Online backups under load: two writer processes run invariant-keeping transactions while
// the parent takes backups; every backup restores to a state that satisfies the invariants
// and whose counts match its manifest. A restore killed at any moment leaves one whole state.
import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, LineChild, runTogether, sleep, strata, tempDir } from '../reliability/helpers.js';

let dir: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('backup-writers');
});
afterEach(async () => {
  await dir.dispose();
});

type Store = Awaited<ReturnType<typeof strata.openStore>>;

async function checkInvariants(store: Store): Promise<{ moves: number }> {
  const bank = store.kv<number>('bank');
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += (await bank.get(`a${i}`)) ?? 0;
  expect(sum).toBe(10_000);
  const moves = (await bank.get('moves')) ?? 0;
  expect(await store.collection('ledger').count()).toBe(moves);
  return { moves };
}

describe.each(['sqlite', 'file'])('backup while 2 processes write (%s)', (kind) => {
  it('every backup restores to a consistent state matching its manifest', async () => {
    const url = kind === 'sqlite' ? `sqlite:${join(dir.path, 'app.db')}` : `file:${join(dir.path, 'app')}`;
    const store = await strata.openStore({ url, sweepInterval: false });
    try {
      await store.kv<number>('bank').setMany(Array.from({ length: 10 }, (_, i) => [`a${i}`, 1000] as [string, number]));
      const writers = [1, 2].map((id) => new LineChild(fixture('backup-writer.mjs'), [url, `w${id}`, '2500'], { stdin: true }));
      const done = runTogether<number>(writers);
      await Promise.all(writers.map((w) => w.waitFor('R', 30_000)));
      const backups = [];
      await sleep(400);
      for (let i = 0; i < 3; i++) {
        backups.push(await store.backup());
        await sleep(300);
      }
      const counts = await done;
      expect(counts[0]! + counts[1]!).toBeGreaterThan(10);
      const final = await checkInvariants(store);
      const seen: number[] = [];
      for (const backup of backups) {
        const verified = await store.backups.verify(backup.id);
        expect(verified.records).toBe(backup.records);
        const restored = await store.restore(backup.id);
        expect(restored.records).toBe(backup.records);
        const { moves } = await checkInvariants(store);
        seen.push(moves);
        const stats = await store.stats();
        const listed = (await store.backups.list()).find((b) => b.id === backup.id);
        expect(listed && 'spaces' in listed ? listed.spaces['c.ledger'] : -1).toBe(moves);
        expect(stats.collections.find((c) => c.name === 'ledger')?.records ?? 0).toBe(moves);
      }
      // Backups taken while the writers ran hold some of their work, and later ones more.
      expect(seen[2]!).toBeGreaterThan(0);
      expect(seen[0]!).toBeLessThanOrEqual(seen[1]!);
      expect(seen[1]!).toBeLessThanOrEqual(seen[2]!);
      expect(seen[2]!).toBeLessThanOrEqual(final.moves);
    } finally {
      await store.close();
    }
  });
});

describe.each(['sqlite', 'file'])('restore while another process reads (%s)', (kind) => {
  it('the reader sees the old state or the new one, never a mix', async () => {
    const url = kind === 'sqlite' ? `sqlite:${join(dir.path, 'app.db')}` : `file:${join(dir.path, 'app')}`;
    const store = await strata.openStore({ url, sweepInterval: false });
    try {
      const bank = store.kv<number>('bank');
      await bank.setMany(Array.from({ length: 10 }, (_, i) => [`a${i}`, 1000] as [string, number]));
      await store
        .kv('filler')
        .setMany(Array.from({ length: 3000 }, (_, i) => [`f${i}`, { i, text: 'x'.repeat(40) }] as [string, unknown]));
      const even = await store.backup();
      await bank.setMany(Array.from({ length: 10 }, (_, i) => [`a${i}`, i < 5 ? 1500 : 500] as [string, number]));
      await store.kv('filler').clear();
      const skewed = await store.backup();
      const reader = new LineChild(fixture('backup-reader.mjs'), [url, '2000'], { stdin: true });
      const done = runTogether<{ reads: number; bad: number; states: number[] }>([reader]);
      await reader.waitFor('R', 30_000);
      await sleep(100);
      let restores = 0;
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        await store.restore((restores++ % 2 === 0 ? even : skewed).id);
      }
      const [seen] = await done;
      expect(restores).toBeGreaterThan(3);
      expect(seen!.reads).toBeGreaterThan(10);
      expect(seen!.bad).toBe(0);
      expect(seen!.states.length).toBeGreaterThan(1);
    } finally {
      await store.close();
    }
  });
});

describe('a backup killed half way (SIGKILL)', () => {
  it('leaves no backup behind, and the next backup removes its scratch file', async () => {
    const url = `sqlite:${join(dir.path, 'app.db')}`;
    const to = join(dir.path, 'backups');
    const store = await strata.openStore({ url, sweepInterval: false });
    try {
      const rows = Array.from(
        { length: 60_000 },
        (_, i) => [`k${i}`, { i, text: `record ${i} `.repeat(8) }] as [string, unknown],
      );
      await store.kv('big').setMany(rows);
      const first = await store.backup({ to });
      const child = new LineChild(fixture('backup-slow.mjs'), [url, to]);
      await child.waitFor('P', 30_000);
      child.kill();
      await child.exit(10_000);
      expect(child.lines.some((l) => l.startsWith('D '))).toBe(false);
      // Only the first backup exists; the killed one left a part without a manifest.
      expect((await store.backups.list({ dir: to })).map((b) => b.id)).toEqual([first.id]);
      const leftovers = (await readdir(dir.path)).filter((n) => n.includes('.strata-backup-'));
      expect(leftovers.length).toBeGreaterThan(0);
      const second = await store.backup({ to });
      expect((await readdir(dir.path)).filter((n) => n.includes('.strata-backup-'))).toEqual([]);
      expect((await store.backups.verify(second.id, { dir: to })).records).toBe(first.records);
      await store.kv('big').clear();
      await store.restore(first.id, { dir: to });
      expect(await store.kv('big').count()).toBe(60_000);
    } finally {
      await store.close();
    }
  });
});

describe.each(['sqlite', 'file'])('a restore killed at any moment (SIGKILL, %s)', (kind) => {
  it('leaves the whole old state or the whole restored one, never a mix, and verify clean', async () => {
    const pristine = join(dir.path, 'pristine');
    const work = join(dir.path, 'work');
    const backups = join(dir.path, 'backups');
    const urlOf = (root: string) => (kind === 'sqlite' ? `sqlite:${join(root, 'app.db')}` : `file:${join(root, 'app')}`);
    const N = 30_000;
    const fill = (v: string) => Array.from({ length: N }, (_, i) => [`k${i}`, { v, i }] as [string, unknown]);
    let id: string;
    {
      const store = await strata.openStore({ url: urlOf(pristine), sweepInterval: false, durability: 'normal' });
      await store.kv('a').setMany(fill('old'));
      id = (await store.backup({ to: backups })).id;
      await store.kv('a').setMany(fill('new'));
      await store.close();
    }
    /**
     * Runs the restorer on a fresh copy of the store and kills it `kill` ms after it is ready;
     * 'done': right after the restore resolved (before close); null: never.
     */
    const round = async (kill: number | 'done' | null): Promise<{ finished: boolean; ms: number }> => {
      await rm(work, { recursive: true, force: true });
      await cp(pristine, work, { recursive: true });
      const child = new LineChild(fixture('backup-restorer.mjs'), [urlOf(work), backups, id]);
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
    for (const fraction of [0, 0.2, 0.4, 0.6, 0.8, 1, 'done'] as const) {
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
        states.add([...seen][0]!);
        expect((await store.verify()).ok).toBe(true);
      } finally {
        await store.close();
      }
    }
    // Killed before it could commit (at 0) and after it resolved ('done'): both states were seen.
    expect(states).toEqual(new Set(['old', 'new']));
  }, 90_000);
});
