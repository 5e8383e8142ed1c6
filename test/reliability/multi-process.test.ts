// Several processes on one store: atomic counters lose no increment, concurrent writers of
// different keys lose nothing, and a change made by another process reaches `watch` as
// origin 'remote'. Every worker is a plain `node` child importing the built package.
//
// Counts: kv.incr, kv.update and collection update-with-ifVersion 4 x 2,000 each;
// store.transaction incr 4 x 250; for the file driver also 4 x 1,000 (set + incr) with a
// 16 KiB compaction threshold, so processes compact under each other. The counter workers
// use durability 'normal' (these tests are about atomicity across processes, not fsync;
// 'full' is covered by crash.test.ts); the distinct-keys test uses 'full'.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { KvChange, DocChange } from '../../src/index.js';
import { fixture, LineChild, strata, tempDir } from './helpers.js';

const { openStore } = strata;

interface DriverCase {
  name: 'sqlite' | 'file';
  url(dir: string, durability?: 'full' | 'normal'): string;
}

const CASES: DriverCase[] = [
  { name: 'sqlite', url: (dir, d = 'full') => `sqlite:${join(dir, 'mp.db')}?durability=${d}` },
  { name: 'file', url: (dir, d = 'full') => `file:${join(dir, 'store')}?durability=${d}` },
];

const timings: string[] = [];
afterAll(() => {
  for (const t of timings) console.log(`[multi-process] ${t}`);
});

interface WorkerStats {
  ms: number;
  conflicts: number;
  /** The file driver's counters, for workers opened with a compaction threshold. */
  file?: { compactions: number; reloads: number; catchUps: number };
}

/** Starts `count` workers, releases them together, waits for all; returns their stats. */
async function runWorkers(url: string, task: string, count: number, n: number, compactBytes?: number): Promise<WorkerStats[]> {
  const extra = compactBytes === undefined ? [] : [String(compactBytes)];
  const workers = Array.from(
    { length: count },
    (_, i) => new LineChild(fixture('mp-worker.mjs'), [url, task, String(n), String(i), ...extra], { stdin: true }),
  );
  try {
    await Promise.all(workers.map((w) => w.waitFor('R', 30_000, `worker ${task} ready`)));
    for (const w of workers) {
      w.send('go\n');
      w.proc.stdin!.end();
    }
    const exits = await Promise.all(workers.map((w) => w.exit(180_000)));
    exits.forEach((exit, i) => {
      if (exit.code !== 0)
        throw new Error(`worker ${i} (${task}) exited with ${exit.code ?? exit.signal}: ${workers[i]!.stderr}`);
    });
    return workers.map((w) => JSON.parse(w.lines.find((l) => l.startsWith('D '))!.slice(2)) as WorkerStats);
  } finally {
    for (const w of workers) w.kill();
  }
}

for (const c of CASES)
  describe(`${c.name}: several processes on one store`, () => {
    const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      const started = Date.now();
      const out = await fn();
      timings.push(`${c.name} ${what}: ${Date.now() - started} ms`);
      return out;
    };

    /** Runs `work` against a fresh store, then reopens it for `check`; cleans up either way. */
    const onFreshStore = async (
      label: string,
      durability: 'full' | 'normal',
      work: (url: string) => Promise<void>,
      check: (store: Awaited<ReturnType<typeof openStore>>) => Promise<void>,
    ): Promise<void> => {
      const dir = await tempDir(`mp-${label}-${c.name}`);
      try {
        const url = c.url(dir.path, durability);
        await work(url);
        const store = await openStore({ url, sweepInterval: false });
        try {
          await check(store);
        } finally {
          await store.close();
        }
      } finally {
        await dir.dispose();
      }
    };

    if (c.name === 'sqlite') {
      it('opening waits while another process holds a lock on the file, instead of failing LOCKED', async () => {
        const dir = await tempDir('mp-openlock');
        try {
          const path = join(dir.path, 'mp.db');
          await (await openStore({ url: `sqlite:${path}`, sweepInterval: false })).close();
          // A reader in rollback-journal mode (another tool switched the store out of WAL)
          // blocks the switch back to WAL that opening makes. (A SQLite file of another
          // application, without Strata's tables, is refused instead: sqlite-foreign-file.test.ts.)
          const holder = new LineChild('--input-type=module', [
            '-e',
            `import Database from ${JSON.stringify(new URL('../../node_modules/better-sqlite3/lib/index.js', import.meta.url).pathname)};
             const db = new Database(${JSON.stringify(path)});
             db.pragma('journal_mode = DELETE'); db.exec('BEGIN'); db.prepare('SELECT count(*) FROM strata_meta').get();
             console.log('R'); setTimeout(() => { db.exec('COMMIT'); db.close(); }, 400);`,
          ]);
          await holder.waitFor('R', 30_000, 'lock holder ready');
          const started = Date.now();
          const store = await openStore({ url: `sqlite:${path}`, sweepInterval: false });
          await store.kv('mp').set('k', 1);
          await store.close();
          timings.push(`sqlite open behind a held lock: ${Date.now() - started} ms`);
          await holder.exit(30_000);
        } finally {
          await dir.dispose();
        }
      }, 60_000);
    }

    it('8 processes creating the same new store at once all open it', async () => {
      // Regression: racing to switch a new SQLite file to WAL answered SQLITE_BUSY at once.
      for (let round = 0; round < 5; round++) {
        await onFreshStore(
          `open${round}`,
          'normal',
          async (url) => void (await runWorkers(url, 'incr', 8, 1)),
          async (store) => expect(await store.kv('mp').get('n')).toBe(8),
        );
      }
    }, 240_000);

    it('4 processes x 2,000 kv.incr on one key: exactly 8,000', async () => {
      await onFreshStore(
        'incr',
        'normal',
        async (url) => void (await timed('4 x 2000 kv.incr', () => runWorkers(url, 'incr', 4, 2000))),
        async (store) => {
          expect(await store.kv('mp').get('n')).toBe(8000);
          expect((await store.kv('mp').getEntry('n'))!.version).toBe(8000);
          expect((await store.verify()).ok).toBe(true);
        },
      );
    }, 240_000);

    it('4 processes x 2,000 kv.update(n => n + 1): exactly 8,000', async () => {
      await onFreshStore(
        'update',
        'normal',
        async (url) => void (await timed('4 x 2000 kv.update', () => runWorkers(url, 'update', 4, 2000))),
        async (store) => expect(await store.kv('mp').get('u')).toBe(8000),
      );
    }, 240_000);

    it('4 processes x 2,000 collection.update with ifVersion: exactly 8,000', async () => {
      await onFreshStore(
        'cupdate',
        'normal',
        async (url) => {
          const setup = await openStore({ url, sweepInterval: false });
          await setup.collection('counters').insert({ id: 'c', n: 0 });
          await setup.close();
          const stats = await timed('4 x 2000 collection.update(ifVersion)', () => runWorkers(url, 'cupdate', 4, 2000));
          timings.push(`${c.name} collection.update CONFLICT retries: ${stats.reduce((s, x) => s + x.conflicts, 0)}`);
        },
        async (store) => {
          const entry = await store.collection('counters').getEntry('c');
          expect(entry!.value).toEqual({ id: 'c', n: 8000 });
          expect(entry!.version).toBe(8001);
        },
      );
    }, 240_000);

    it('4 processes x 250 store.transaction incr: exactly 1,000', async () => {
      await onFreshStore(
        'tx',
        'normal',
        async (url) => void (await timed('4 x 250 transaction incr', () => runWorkers(url, 'tx', 4, 250))),
        async (store) => expect(await store.kv('mp').get('t')).toBe(1000),
      );
    }, 240_000);

    if (c.name === 'file') {
      it('4 processes writing and incrementing while they compact every few KiB lose nothing', async () => {
        const dir = await tempDir('mp-compact-file');
        try {
          const url = c.url(dir.path, 'normal');
          const stats = await timed('4 x 1000 set + incr, compactBytes 16 KiB', () =>
            runWorkers(url, 'mixed', 4, 1000, 16 * 1024),
          );
          const compactions = stats.reduce((s, x) => s + (x.file?.compactions ?? 0), 0);
          const reloads = stats.reduce((s, x) => s + (x.file?.reloads ?? 0), 0);
          timings.push(
            `file compactions during the mixed run: ${compactions}, reloads after another process compacted: ${reloads}`,
          );
          expect(compactions, 'the workers compacted').toBeGreaterThan(0);
          const store = await openStore({ url, sweepInterval: false });
          try {
            const kv = store.kv('mp');
            expect(await kv.get('n')).toBe(4000);
            expect(await kv.count({ prefix: 'w' })).toBe(4000);
            for (const id of ['0', '1', '2', '3']) {
              const keys = Array.from({ length: 1000 }, (_, i) => `w${id}:${i}`);
              const values = (await kv.getMany(keys)) as Array<{ id: string; i: number } | null>;
              const wrong = values.filter((v, i) => v?.id !== id || v.i !== i);
              expect(wrong.length, `worker ${id}: missing or wrong values`).toBe(0);
            }
            expect((await store.verify()).ok).toBe(true);
          } finally {
            await store.close();
          }
        } finally {
          await dir.dispose();
        }
      }, 240_000);
    }

    it('two processes writing different keys at once lose nothing (durability full)', async () => {
      await onFreshStore(
        'keys',
        'full',
        async (url) => void (await timed('2 x 1000 distinct keys', () => runWorkers(url, 'keys', 2, 1000))),
        async (store) => {
          const kv = store.kv('mp');
          expect(await kv.count()).toBe(2000);
          for (const id of ['0', '1']) {
            const keys = Array.from({ length: 1000 }, (_, i) => `w${id}:${i}`);
            const values = await kv.getMany(keys);
            values.forEach((v, i) => expect(v, keys[i]).toEqual({ id, i }));
          }
          expect((await store.verify()).ok).toBe(true);
        },
      );
    }, 240_000);

    it("watch sees another process's writes with origin 'remote', its own as 'local'", async () => {
      const dir = await tempDir(`mp-watch-${c.name}`);
      const url = c.url(dir.path);
      const store = await openStore({ url, sweepInterval: false });
      const kvEvents: Array<KvChange<unknown>> = [];
      const docEvents: Array<DocChange<Record<string, unknown>>> = [];
      const stops: Array<() => void> = [];
      try {
        const kv = store.kv('watch');
        await kv.set('gone', 1); // written before anyone watches: no event
        stops.push(kv.watch((change) => kvEvents.push(change)));
        stops.push(store.collection('watched').watch((change) => docEvents.push(change)));
        await kv.set('mine', 'local write');
        const until = async (test: () => boolean, what: string): Promise<void> => {
          const deadline = Date.now() + 10_000;
          while (!test()) {
            if (Date.now() > deadline) {
              throw new Error(
                `no ${what} within 10 s; kv events: ${JSON.stringify(kvEvents)}; doc events: ${JSON.stringify(docEvents)}`,
              );
            }
            await new Promise((r) => setTimeout(r, 10));
          }
        };
        await until(() => kvEvents.some((e) => e.key === 'mine'), 'local event');
        expect(kvEvents.find((e) => e.key === 'mine')).toMatchObject({ type: 'put', key: 'mine', origin: 'local', version: 1 });

        const started = Date.now();
        const child = new LineChild(fixture('mp-worker.mjs'), [url, 'watch', '1', 'w1']);
        const exit = await child.exit(30_000);
        expect(exit.code, child.stderr).toBe(0);
        await until(
          () =>
            kvEvents.some((e) => e.key === 'ping' && e.origin === 'remote') &&
            kvEvents.some((e) => e.key === 'gone' && e.origin === 'remote') &&
            docEvents.some((e) => e.key === 'doc1' && e.origin === 'remote'),
          'remote events',
        );
        timings.push(`${c.name} remote watch: events within ${Date.now() - started} ms of spawning the writer`);
        const ping = kvEvents.find((e) => e.key === 'ping')!;
        expect(ping).toMatchObject({ type: 'put', origin: 'remote', version: 1 });
        if (ping.value !== undefined) expect(ping.value).toEqual({ from: 'child', id: 'w1' });
        expect(kvEvents.find((e) => e.key === 'gone')).toMatchObject({ type: 'delete', origin: 'remote', version: null });
        const doc = docEvents.find((e) => e.key === 'doc1')!;
        expect(doc).toMatchObject({ type: 'put', origin: 'remote', version: 1 });
        if (doc.value !== undefined) expect(doc.value).toEqual({ id: 'doc1', from: 'child' });
        // The parent's own write is never reported back as remote.
        expect(kvEvents.filter((e) => e.key === 'mine').map((e) => e.origin)).toEqual(['local']);
      } finally {
        for (const stop of stops) stop();
        await store.close();
        await dir.dispose();
      }
    }, 60_000);
  });
