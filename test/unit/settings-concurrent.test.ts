// store.settings(): a `set` checks the settings as they would be after it, and that check
// holds against concurrent sets too. Each checked set reads, checks and writes in one
// store.transaction, so two sets that each pass a rule across keys (min <= max) but break
// it together cannot both be written: the second one's commit sees the first and its check
// runs again on the new settings.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openStore, StrataError } from '../../src/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-settings-race-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const Range = z.object({ min: z.number(), max: z.number() }).refine((r) => r.min <= r.max, 'min must be <= max');
const defaults = { min: 0, max: 10 };

describe('settings: concurrent sets in one process', () => {
  it.each([
    ['memory', () => 'memory:'],
    ['sqlite', () => `sqlite:${join(dir, 's.db')}`],
    ['file', () => `file:${join(dir, 'files')}`],
  ])('on %s, one of two sets that break the schema together is VALIDATION_FAILED', async (_driver, url) => {
    const store = await openStore({ url: url(), sweepInterval: false });
    try {
      const range = store.settings('range', { schema: Range, defaults });
      const results = await Promise.allSettled([range.set('min', 8), range.set('max', 2)]);
      const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as unknown);
      expect(refused).toHaveLength(1);
      expect(StrataError.is(refused[0], 'VALIDATION_FAILED')).toBe(true);
      expect(refused[0]).toMatchObject({ op: 'settings.set' });
      const all = await range.getAll();
      expect(all.min <= all.max).toBe(true);
      expect([
        { min: 8, max: 10 },
        { min: 0, max: 2 },
      ]).toContainEqual(all);
    } finally {
      await store.close();
    }
  });

  it('when another writer changes the settings during every rerun, set is CONFLICT and writes nothing', async () => {
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      const other = store.kv('busy');
      let runs = 0;
      // The check itself lets another writer in (a write outside the transaction) on every run.
      const Busy = z.object({ a: z.number().optional(), b: z.number().optional() }).refine(async () => {
        await other.set('b', ++runs);
        return true;
      });
      const busy = store.settings('busy', { schema: Busy });
      const error = await busy.set('a', 1).catch((e: unknown) => e);
      expect(StrataError.is(error, 'CONFLICT')).toBe(true);
      expect(error).toMatchObject({ op: 'settings.set', hint: expect.stringContaining('retry the set') as unknown });
      // The first run and store.transaction's 10 reruns (zod may call an async refine twice per check).
      expect(runs).toBeGreaterThanOrEqual(11);
      expect(await other.get('a')).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('sets that do not conflict with each other all pass', async () => {
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      const range = store.settings('range', { schema: Range, defaults });
      await Promise.all([range.set('min', 3), range.set('max', 7), range.set({ min: 4 })]);
      expect(await range.getAll()).toEqual({ min: 4, max: 7 });
    } finally {
      await store.close();
    }
  });
});

// Child processes run the built package (dist/): `npm run build` first.
const WRITER = (root: string): string => `import { openStore } from ${JSON.stringify(join(root, 'dist/index.js'))};
import { z } from ${JSON.stringify(join(root, 'node_modules/zod/index.js'))};
const [url, key, a, b] = process.argv.slice(2);
const Range = z.object({ min: z.number(), max: z.number() }).refine((r) => r.min <= r.max, 'min must be <= max');
const store = await openStore({ url, sweepInterval: false });
const range = store.settings('range', { schema: Range, defaults: { min: 0, max: 10 } });
// Refusals that write nothing: the check failed, the store was busy, or other writers kept winning.
const REFUSED = new Set(['VALIDATION_FAILED', 'LOCKED', 'CONFLICT']);
let broken = 0, written = 0;
const until = Date.now() + 3000;
for (let i = 0; Date.now() < until; i++) {
  try { await range.set(key, Number(i % 2 ? a : b)); written++; } catch (e) { if (!REFUSED.has(e.code)) throw e; }
  try { await range.getAll(); } catch (e) { if (e.code === 'VALIDATION_FAILED') broken++; else throw e; }
}
await store.close();
console.log(JSON.stringify({ broken, written }));
`;

describe('settings: concurrent sets in two processes', () => {
  it('two processes setting min and max never leave settings that fail the schema', async () => {
    const url = `sqlite:${join(dir, 's.db')}`;
    const script = join(dir, 'writer.mjs');
    writeFileSync(script, WRITER(process.cwd()));
    const run = (key: string, a: string, b: string): Promise<{ broken: number; written: number }> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [script, url, key, a, b], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('close', (code) =>
          code === 0
            ? resolve(JSON.parse(out) as { broken: number; written: number })
            : reject(new Error(`exit ${code}: ${err}`)),
        );
      });
    // min alternates 8 / 0 and max 2 / 10: written together, 8 and 2 break min <= max.
    const [lo, hi] = await Promise.all([run('min', '8', '0'), run('max', '2', '10')]);
    expect(lo.written + hi.written).toBeGreaterThan(20);
    expect({ minWriterSawBroken: lo.broken, maxWriterSawBroken: hi.broken }).toEqual({
      minWriterSawBroken: 0,
      maxWriterSawBroken: 0,
    });
    const store = await openStore({ url, sweepInterval: false });
    try {
      const all = await store.settings('range', { schema: Range, defaults }).getAll();
      expect(all.min <= all.max).toBe(true);
    } finally {
      await store.close();
    }
  }, 30_000);
});
