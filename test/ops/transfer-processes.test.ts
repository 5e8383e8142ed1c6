import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store.js';
import { rng } from '../rng.js';
import { fixture, LineChild, sleep, strata, tempDir } from '../reliability/helpers.js';

/**
 * Import against a store other processes use at the same time (real child processes, on
 * sqlite and the file driver): readers see the old state or the new one, never a mix;
 * writers' acknowledged writes survive a merge; watchers in another process hear of every
 * change or get a reset; an import SIGKILLed at any moment leaves the old or the new state,
 * verify clean; four processes importing at once leave exactly one of their files.
 */

const WORKER = fixture('transfer-worker.mjs');
const SHARED = 3000;
const EXTRA = 300;
const KILLS = 5;

let dir: { path: string; dispose(): Promise<void> };
beforeAll(async () => {
  dir = await tempDir('transfer-mp');
});
afterAll(async () => {
  await dir.dispose();
});

const urlOf = (driver: 'sqlite' | 'file', name: string): string =>
  driver === 'sqlite' ? `sqlite:${join(dir.path, `${name}.db`)}` : `file:${join(dir.path, name)}`;

async function open(url: string): Promise<Store> {
  return (await strata.openStore({ url, sweepInterval: false })) as unknown as Store;
}

/** An export of kv('bulk') holding s<i> = { gen } for i < SHARED (and e<i> when `extras`). */
async function exportOf(name: string, gen: number, extras = false, shared = SHARED): Promise<string> {
  const source = await open('memory:');
  const bulk = source.kv('bulk');
  await bulk.setMany(Array.from({ length: shared }, (_, i) => [`s${i}`, { gen }] as [string, unknown]));
  if (extras) await bulk.setMany(Array.from({ length: EXTRA }, (_, i) => [`e${i}`, { gen }] as [string, unknown]));
  await source.collection('docs', { indexes: ['gen'] }).insert({ id: `d${gen}`, gen });
  const path = join(dir.path, `${name}.strata`);
  await source.export(path);
  await source.close();
  return path;
}

/** sha256 of every user record's key, value and version (what an import decides). */
async function stateOf(store: Store): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await store.names()).kv.sort()) {
    for await (const [key, value] of store.kv(name).entries()) hash.update(JSON.stringify([name, key, value]));
  }
  for (const name of (await store.names()).collections.sort()) {
    for (const doc of await store.collection(name).query({})) hash.update(JSON.stringify([name, doc]));
  }
  return hash.digest('hex');
}

async function stateOfFile(path: string): Promise<string> {
  const copy = await open('memory:');
  await copy.import(path);
  const state = await stateOf(copy);
  await copy.close();
  return state;
}

function data<T>(child: LineChild, prefix = 'D '): T {
  const line = child.lines.find((l) => l.startsWith(prefix));
  if (line === undefined) throw new Error(`no ${prefix.trim()} line: ${child.lines.join(' | ')} ${child.stderr}`);
  return JSON.parse(line.slice(prefix.length)) as T;
}

/** Asks the watcher for its counts until `done` holds for them (or 30 s pass). */
async function watched(watcher: LineChild, done: (s: { keys: number; resets: number }) => boolean) {
  const deadline = Date.now() + 30_000;
  for (let i = 0; ; i++) {
    watcher.send('report\n');
    const seen = watcher.lines.filter((l) => l.startsWith('S ')).length;
    await watcher.waitFor((l) => l.startsWith('S ') && watcher.lines.filter((x) => x.startsWith('S ')).length > seen, 10_000);
    const last = JSON.parse(
      watcher.lines
        .filter((l) => l.startsWith('S '))
        .at(-1)!
        .slice(2),
    ) as { keys: number; resets: number };
    if (done(last) || Date.now() > deadline) return last;
    await sleep(100);
  }
}

describe.each(['sqlite', 'file'] as const)('import with other processes on the store (%s)', (driver) => {
  it('readers see the old state or the new one, writers keep their writes, watchers hear of it', async () => {
    const url = urlOf(driver, 'live');
    const merge = await exportOf('gen2', 2);
    const replace = await exportOf('gen3', 3);
    const target = await open(url);
    const bulk = target.kv('bulk');
    await bulk.setMany(Array.from({ length: SHARED }, (_, i) => [`s${i}`, { gen: 1 }] as [string, unknown]));
    await bulk.setMany(Array.from({ length: EXTRA }, (_, i) => [`e${i}`, { gen: 1 }] as [string, unknown]));
    const readers = [0, 1].map(() => new LineChild(WORKER, [url, 'read', String(SHARED), String(EXTRA)]));
    const writer = new LineChild(WORKER, [url, 'write', '0'], { stdin: true });
    const watcher = new LineChild(WORKER, [url, 'watch'], { stdin: true });
    const all = [...readers, writer, watcher];
    try {
      await Promise.all(all.map((c) => c.waitFor('R', 30_000, 'ready')));
      // A merge while a writer writes another namespace: every acknowledged write stays.
      writer.send('go\n');
      await sleep(50);
      const merged = await target.import(merge, { mode: 'merge' });
      expect(merged.records).toBe(SHARED + 2);
      writer.send('stop\n');
      await writer.waitFor((l) => l.startsWith('D '), 30_000);
      const { acked } = data<{ acked: number }>(writer);
      expect(acked).toBeGreaterThan(0);
      const side = await target.kv('side').getMany(Array.from({ length: acked }, (_, i) => `w0:${i}`));
      expect(side.filter((v) => v === null).length, 'acknowledged writes lost by the merge').toBe(0);
      expect(await bulk.get('e0')).toEqual({ gen: 1 });
      // The watcher heard of every changed key, or got a reset.
      const afterMerge = await watched(watcher, (s) => s.resets > 0 || s.keys >= SHARED);
      expect(afterMerge.resets > 0 || afterMerge.keys >= SHARED, JSON.stringify(afterMerge)).toBe(true);
      // A replace: the extras vanish in the same step as the shared keys change.
      await target.import(replace, { mode: 'replace' });
      const afterReplace = await watched(watcher, (s) => s.resets > afterMerge.resets || s.keys >= SHARED + EXTRA);
      expect(afterReplace.resets > afterMerge.resets || afterReplace.keys >= SHARED + EXTRA, JSON.stringify(afterReplace)).toBe(
        true,
      );
      for (const reader of readers) {
        await reader.waitFor((l) => l.startsWith('D '), 30_000);
        const seen = data<{ states: number[]; mixed: number; reads: number; sample: string | null }>(reader);
        expect(seen.mixed, `a reader saw a mixed state: ${seen.sample}`).toBe(0);
        expect(seen.states[0]).toBe(1);
        expect(seen.states.at(-1)).toBe(3);
        // Never back to an older state.
        expect([...seen.states].sort()).toEqual(seen.states);
      }
      watcher.send('quit\n');
      for (const child of all) expect((await child.exit(30_000)).code, child.stderr).toBe(0);
      expect(await stateOf(target)).toBe(await stateOfFile(replace));
      expect((await target.verify()).ok).toBe(true);
    } finally {
      for (const child of all) child.kill();
      await target.close();
    }
  }, 60_000);

  it('an import SIGKILLed at any moment leaves the whole old state or the whole new one', async () => {
    const random = rng(driver === 'sqlite' ? 7 : 11);
    const big = await exportOf(`kill-new-${driver}`, 9, false, 12_000);
    const url = urlOf(driver, 'killed');
    const seed = await open(url);
    await seed.kv('bulk').setMany(Array.from({ length: 5000 }, (_, i) => [`s${i}`, { gen: 1 }] as [string, unknown]));
    await seed.kv('old').set('only', 'here');
    const oldState = await stateOf(seed);
    await seed.close();
    const newState = await stateOfFile(big);
    // How long an import takes here, from the store being open to the exit (the kills are spread over it).
    const timing = new LineChild(WORKER, [urlOf(driver, 'timing'), 'import', big, 'replace']);
    await timing.waitFor('R', 30_000, 'ready');
    const startedAt = Date.now();
    expect((await timing.exit(60_000)).code, timing.stderr).toBe(0);
    const span = Date.now() - startedAt;
    const outcomes = { old: 0, new: 0 };
    for (let i = 0; i < KILLS; i++) {
      const child = new LineChild(WORKER, [url, 'import', big, 'replace']);
      await child.waitFor('R', 30_000, 'ready');
      await sleep(Math.floor(random() * span));
      child.kill();
      await child.exit(30_000);
      const store = await open(url);
      const state = await stateOf(store);
      expect([oldState, newState], `kill ${i}`).toContain(state);
      outcomes[state === oldState ? 'old' : 'new']++;
      expect((await store.verify()).ok, `kill ${i}: verify`).toBe(true);
      // Put the old state back for the next kill.
      if (state === newState) {
        await store.kv('bulk').clear();
        await store.kv('bulk').setMany(Array.from({ length: 5000 }, (_, j) => [`s${j}`, { gen: 1 }] as [string, unknown]));
        await store.collection('docs').delete('d9');
        await store.kv('old').set('only', 'here');
        expect(await stateOf(store)).toBe(oldState);
      }
      await store.close();
    }
    expect(outcomes.old + outcomes.new).toBe(KILLS);
    // The next import removes the staging files the killed ones left (their processes are gone).
    const store = await open(url);
    await store.import(big, { mode: 'replace' });
    expect(await stateOf(store)).toBe(newState);
    await store.close();
    const leftovers = readdirSync(driver === 'sqlite' ? dir.path : join(dir.path, 'killed')).filter((n) =>
      /strata-stage|\.tmp/.test(n),
    );
    expect(leftovers).toEqual([]);
  }, 60_000);

  it('four processes importing at once leave exactly one of their files', async () => {
    const files = await Promise.all([1, 2, 3, 4].map((g) => exportOf(`race-${driver}-${g}`, 10 + g, g % 2 === 0, 500 + g)));
    const states = await Promise.all(files.map(stateOfFile));
    const url = urlOf(driver, 'race');
    const seed = await open(url);
    await seed.kv('bulk').set('s0', { gen: 0 });
    await seed.close();
    const importers = files.map((file) => new LineChild(WORKER, [url, 'import', file, 'replace', 'barrier'], { stdin: true }));
    try {
      await Promise.all(importers.map((c) => c.waitFor('R', 30_000, 'ready')));
      for (const c of importers) {
        c.send('go\n');
        c.proc.stdin!.end();
      }
      for (const c of importers) expect((await c.exit(60_000)).code, c.stderr).toBe(0);
      const results = importers.map((c) => c.lines.find((l) => l.startsWith('D ') || l.startsWith('E '))!);
      // Each one either imported or waited too long for the others (LOCKED / TIMEOUT): nothing else.
      for (const line of results) expect(line, line).toMatch(/^D |^E (LOCKED|TIMEOUT) /);
      expect(results.some((l) => l.startsWith('D '))).toBe(true);
      const store = await open(url);
      expect(states).toContain(await stateOf(store));
      expect((await store.verify()).ok).toBe(true);
      await store.close();
    } finally {
      for (const c of importers) c.kill();
    }
  }, 60_000);
});
