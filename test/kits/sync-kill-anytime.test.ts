// Checkpoints under SIGKILL at ANY moment (sqlite and file): unlike sync-kill.test.ts, which
// kills a few pages into a walk, a child here is killed at a random time from its start, so
// kills land while the store opens, between saves and (pages of 40 padded items in 6
// batches) mostly inside a save's transaction. After every kill the store holds exactly the
// pages up to the checkpoint and covers exactly them, the next run starts right after it,
// and in the end every page was committed once and the stream is an uninterrupted walk's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LineChild, sleep } from '../reliability/helpers.js';
import { rng } from '../rng.js';
import { inspectStream } from './sync-inspect.js';

const worker = fileURLToPath(new URL('./sync-worker.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'strata-sync-kill-anytime-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PAGES = 500;
const PER_PAGE = 40;
const BATCH = 7;
const PAD = 200;
const ROUNDS = 16;
const args = (url: string) => [url, String(PAGES), String(PER_PAGE), String(BATCH), String(PAD)];

// The sqlite walk is several times faster than the file one: shorter waits keep kills many on both.
const MAX_WAIT_MS = { sqlite: 150, file: 300 } as const;

describe.each(['sqlite', 'file'] as const)('sync stream checkpoints under SIGKILL at any moment (%s)', (driver) => {
  it('after every kill the items and covered range are exactly the pages up to the checkpoint', async () => {
    const url = driver === 'sqlite' ? `sqlite:${join(dir, 'k.db')}` : `file:${join(dir, 'k')}`;
    const random = rng(driver === 'sqlite' ? 77 : 78);
    const committed = new Map<number, number>();
    const commit = (from: number, to: number) => {
      for (let p = from; p <= to; p++) committed.set(p, (committed.get(p) ?? 0) + 1);
    };
    let last = 0;
    let kills = 0;
    let midWalk = 0;
    let done = false;
    for (let round = 0; round < ROUNDS && !done; round++) {
      const child = new LineChild(worker, args(url));
      await child.waitFor('opening', 20_000);
      await sleep(Math.floor(random() * MAX_WAIT_MS[driver]));
      child.proc.kill('SIGKILL');
      const exit = await child.exited;
      if (exit.signal === 'SIGKILL') kills++;
      if (exit.signal === 'SIGKILL' && child.lines.some((l) => l.startsWith('fetch '))) midWalk++;
      const { state, items } = await inspectStream(url);
      // A walk that cleared its checkpoint finished, even when the kill landed before it said 'done'.
      done = child.lines.includes('done') || (state?.checkpoint === null && items.length === PAGES * PER_PAGE);
      const checkpoint = state?.checkpoint?.page ?? (done ? PAGES : 0);
      // A run that got as far as reading the checkpoint started right after the last one.
      const startLine = child.lines.find((l) => l.startsWith('start '));
      if (startLine !== undefined) expect(Number(startLine.slice(6)), child.lines.join('|')).toBe(last + 1);
      expect(checkpoint).toBeGreaterThanOrEqual(last);
      commit(last + 1, checkpoint);
      last = checkpoint;
      expect(items.length).toBe(checkpoint * PER_PAGE);
      expect(items.every((item, i) => item.at === i + 1)).toBe(true);
      if (checkpoint > 0) expect(state!.covered).toEqual([[1, checkpoint * PER_PAGE]]);
    }
    expect(kills).toBeGreaterThanOrEqual(5);
    expect(midWalk).toBeGreaterThanOrEqual(3);

    if (!done) {
      // A finished walk clears its checkpoint (a rerun would start over): finish only an unfinished one.
      const finish = new LineChild(worker, args(url));
      const exit = await finish.exited;
      expect(exit.code, finish.stderr).toBe(0);
      expect(finish.lines.find((l) => l.startsWith('start '))).toBe(`start ${last + 1}`);
      commit(last + 1, PAGES);
    }
    // Every page committed exactly once across all the runs.
    expect([...committed.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: PAGES }, (_, i) => i + 1));
    expect([...committed.values()].every((n) => n === 1)).toBe(true);
    const { state, items } = await inspectStream(url);
    expect(items.length).toBe(PAGES * PER_PAGE);
    expect(state!.covered).toEqual([[1, PAGES * PER_PAGE]]);
    expect(state!.checkpoint).toBeNull();
  }, 50_000);
});
