// Checkpoints under SIGKILL: a child walks a paginated source and is killed at random
// moments (seeded), mid-save included. After each kill the store holds exactly the pages up
// to its checkpoint (never items without their checkpoint, never a checkpoint without its
// items), the rerun starts right after the checkpoint, and the end state equals an
// uninterrupted walk.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LineChild, sleep } from '../reliability/helpers.js';
import { rng } from '../rng.js';
import { inspectStream } from './sync-inspect.js';

const worker = fileURLToPath(new URL('./sync-worker.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'strata-sync-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PAGES = 300;
const PER_PAGE = 10;

describe.each(['sqlite', 'file'])('sync stream checkpoints under SIGKILL (%s)', (driver) => {
  const urlOf = (name: string) => (driver === 'sqlite' ? `sqlite:${join(dir, `${name}.db`)}` : `file:${join(dir, name)}`);
  it('resumes after each kill from exactly the last committed page', async () => {
    const url = urlOf('killed');
    const random = rng(9001);
    const fetchedCommitted = new Map<number, number>();
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      const child = new LineChild(worker, [url, String(PAGES), String(PER_PAGE)]);
      const startLine = await child.waitFor((l) => l.startsWith('start '), 20_000);
      const start = Number(startLine.slice(6));
      // Kill a few pages in, at a random moment (often inside a save's transaction).
      await child.waitFor(`saved ${start + 2}`, 20_000);
      await sleep(Math.floor(random() * 25));
      child.proc.kill('SIGKILL');
      const exit = await child.exited;
      if (child.lines.includes('done')) break;
      expect(exit.signal).toBe('SIGKILL');
      kills++;
      const { state, items } = await inspectStream(url);
      const committed = state!.checkpoint!.page;
      const lastSaved = Math.max(...child.lines.filter((l) => l.startsWith('saved ')).map((l) => Number(l.slice(6))));
      // The commit may land just before the kill and its line not: at most one page more.
      expect(committed === lastSaved || committed === lastSaved + 1).toBe(true);
      expect(items.length).toBe(committed * PER_PAGE);
      expect(items.every((item, i) => item.at === i + 1)).toBe(true);
      expect(state!.covered).toEqual([[1, committed * PER_PAGE]]);
      for (let p = start; p <= committed; p++) fetchedCommitted.set(p, (fetchedCommitted.get(p) ?? 0) + 1);
      // The next run starts right after the checkpoint: no committed page is fetched again.
      const next = new LineChild(worker, [url, 'probe', String(PER_PAGE)]);
      expect(await next.waitFor((l) => l.startsWith('start '), 20_000)).toBe(`start ${committed + 1}`);
      await next.exited;
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    const finish = new LineChild(worker, [url, String(PAGES), String(PER_PAGE)]);
    await finish.exited;
    expect(finish.lines.at(-1)).toBe('done');
    for (const l of finish.lines.filter((x) => x.startsWith('saved '))) {
      const p = Number(l.slice(6));
      fetchedCommitted.set(p, (fetchedCommitted.get(p) ?? 0) + 1);
    }
    // Every page committed exactly once across all the runs.
    expect([...fetchedCommitted.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: PAGES }, (_, i) => i + 1));
    expect([...fetchedCommitted.values()].every((n) => n === 1)).toBe(true);

    const uninterrupted = urlOf('whole');
    const whole = new LineChild(worker, [uninterrupted, String(PAGES), String(PER_PAGE)]);
    await whole.exited;
    const a = await inspectStream(url);
    const b = await inspectStream(uninterrupted);
    expect(a.items).toEqual(b.items);
    expect(a.state!.covered).toEqual([[1, PAGES * PER_PAGE]]);
    expect(a.state!.covered).toEqual(b.state!.covered);
    expect(a.state!.checkpoint).toBeNull();
  }, 60_000);
});
