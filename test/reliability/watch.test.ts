// sqlite watch across processes: a watcher in another process either gets every change or an
// explicit `reset` for each space, never silence. Overrun: the watcher's event loop is held
// while batches are written (with the default limits, the 14,000 batches of the issue, all
// delivered; past `keepUnread`, a reset). Lapse: held past the registration TTL, so writers
// stopped logging: a reset. After a reset, changes are delivered again. Limits are shrunk
// through the internal `watchLimits` driver option instead of waiting 30 s.
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as SqliteApi from '../../src/drivers/sqlite.js';
import type { WatchLimits } from '../../src/drivers/sqlite-watch.js';
import { fixture, LineChild, sleep, strata, tempDir } from './helpers.js';

const { openStore } = strata;
const { sqliteDriver } = (await import(new URL('../../dist/drivers/sqlite.js', import.meta.url).href)) as typeof SqliteApi;

interface Report {
  events: number;
  distinct: Record<'kv.w' | 'c.docs', number>;
  resets: Record<'kv.w' | 'c.docs', number>;
  after: number;
}

const timings: string[] = [];
afterAll(() => {
  for (const t of timings) console.log(`[watch] ${t}`);
});

async function report(child: LineChild): Promise<Report> {
  const before = child.lines.length;
  child.send('report\n');
  for (let waited = 0; waited < 10_000; waited += 10) {
    const line = child.lines.slice(before).find((l) => l.startsWith('S '));
    if (line !== undefined) return JSON.parse(line.slice(2)) as Report;
    await sleep(10);
  }
  throw new Error(`no report from the watcher; stderr: ${child.stderr}`);
}

/** Reports until `done` holds (or 15 s pass); returns the last report. */
async function until(child: LineChild, done: (r: Report) => boolean): Promise<Report> {
  const started = Date.now();
  let last = await report(child);
  while (!done(last) && Date.now() - started < 15_000) {
    await sleep(50);
    last = await report(child);
  }
  return last;
}

async function withWatcher(
  label: string,
  limits: Partial<WatchLimits>,
  body: (ctx: {
    store: Awaited<ReturnType<typeof openStore>>;
    child: LineChild;
    hold(): Promise<() => Promise<void>>;
  }) => Promise<void>,
): Promise<void> {
  const dir = await tempDir(`watch-${label}`);
  const path = join(dir.path, 'w.db');
  const store = await openStore({
    driver: sqliteDriver({ path, durability: 'normal', watchLimits: limits }),
    sweepInterval: false,
  });
  // Both spaces exist before the watcher starts, so a reset names both.
  await store.kv('w').set('first', 0);
  await store.collection('docs').insert({ id: 'd0' });
  const child = new LineChild(fixture('watch-worker.mjs'), [path, JSON.stringify(limits)], { stdin: true });
  try {
    await child.waitFor('R', 30_000, 'watcher ready');
    let holds = 0;
    const hold = async (): Promise<() => Promise<void>> => {
      const flag = join(dir.path, `release-${holds++}`);
      child.send(`hold ${flag}\n`);
      await child.waitFor('H', 10_000, 'watcher held');
      return async () => {
        writeFileSync(flag, '');
        await child.waitFor('B', 10_000, 'watcher released');
      };
    };
    await body({ store, child, hold });
  } finally {
    child.kill();
    await store.close();
    await dir.dispose();
  }
}

async function writeKeys(store: Awaited<ReturnType<typeof openStore>>, prefix: string, n: number): Promise<number> {
  const started = Date.now();
  const kv = store.kv('w');
  for (let i = 0; i < n; i++) await kv.set(`${prefix}${i}`, i); // one batch each
  return Date.now() - started;
}

describe('sqlite: watch in another process never misses a change unannounced', () => {
  it('a watcher held while 14,000 batches are written gets every one (default limits)', async () => {
    await withWatcher('busy', {}, async ({ store, child, hold }) => {
      const release = await hold();
      const ms = await writeKeys(store, 'k', 14_000);
      await release();
      const r = await until(child, (x) => x.distinct['kv.w'] >= 14_000 || x.resets['kv.w'] > 0);
      timings.push(
        `held watcher, 14,000 batches written in ${ms} ms: saw ${r.distinct['kv.w']} keys, resets ${r.resets['kv.w']}`,
      );
      expect(r.resets).toEqual({ 'kv.w': 0, 'c.docs': 0 });
      expect(r.distinct['kv.w']).toBe(14_000);
    });
  }, 60_000);

  it('past the unread limit the held watcher gets a reset for every space, then changes again', async () => {
    const limits = { keep: 50, keepUnread: 300, trimEvery: 10 };
    await withWatcher('overrun', limits, async ({ store, child, hold }) => {
      await writeKeys(store, 'pre', 20);
      expect((await until(child, (x) => x.distinct['kv.w'] >= 20)).distinct['kv.w']).toBe(20);
      const release = await hold();
      await writeKeys(store, 'k', 2_000);
      await release();
      const r = await until(child, (x) => x.resets['kv.w'] > 0);
      timings.push(`overrun (keepUnread 300): saw ${r.distinct['kv.w']} of 2,020 keys, resets ${JSON.stringify(r.resets)}`);
      expect(r.resets).toEqual({ 'kv.w': 1, 'c.docs': 1 });
      await writeKeys(store, 'after', 10);
      expect((await until(child, (x) => x.after >= 10)).after).toBe(10);
      expect((await report(child)).resets).toEqual({ 'kv.w': 1, 'c.docs': 1 });
    });
  }, 60_000);

  it('a watcher held past its registration TTL gets a reset for every space, then changes again', async () => {
    const limits = { ttlMs: 600, heartbeatMs: 100 };
    await withWatcher('lapse', limits, async ({ store, child, hold }) => {
      await writeKeys(store, 'pre', 10);
      expect((await until(child, (x) => x.distinct['kv.w'] >= 10)).distinct['kv.w']).toBe(10);
      const release = await hold();
      await sleep(900); // the registration lapses: writers stop logging
      await writeKeys(store, 'k', 300);
      await release();
      const r = await until(child, (x) => x.resets['kv.w'] > 0);
      timings.push(`lapse: saw ${r.distinct['kv.w'] - 10} of 300 unlogged keys, resets ${JSON.stringify(r.resets)}`);
      expect(r.resets).toEqual({ 'kv.w': 1, 'c.docs': 1 });
      await writeKeys(store, 'after', 10);
      expect((await until(child, (x) => x.after >= 10)).after).toBe(10);
      expect((await report(child)).resets).toEqual({ 'kv.w': 1, 'c.docs': 1 });
    });
  }, 60_000);

  it('a watcher that keeps up gets every change and no reset, with a tiny log', async () => {
    const limits = { keep: 5, keepUnread: 100_000, trimEvery: 5, heartbeatMs: 100 };
    await withWatcher('steady', limits, async ({ store, child }) => {
      const ms = await writeKeys(store, 'k', 3_000);
      await store.collection('docs').insert({ id: 'd1' });
      const r = await until(child, (x) => x.distinct['kv.w'] >= 3_000 && x.distinct['c.docs'] >= 1);
      timings.push(
        `steady watcher, keep 5: 3,000 batches in ${ms} ms, saw ${r.distinct['kv.w']} keys, resets ${JSON.stringify(r.resets)}`,
      );
      expect(r.resets).toEqual({ 'kv.w': 0, 'c.docs': 0 });
      expect(r.distinct).toEqual({ 'kv.w': 3_000, 'c.docs': 1 });
    });
  }, 60_000);
});
