// Migrations across processes: a migrator SIGKILLed half way leaves nothing behind (the next
// run cleans up and the store is byte for byte as before), a batched one killed mid-walk
// resumes from its checkpoint, and 4 migrators started at once apply each migration once.
import { appendFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, LineChild, runTogether, sleep, tempDir } from '../reliability/helpers.js';
import type { MigrateResult } from '../../src/ops/migrate-types.js';
import { dump, open, urlFor } from './migrate-helpers.js';
import { walkDocs } from '../fixtures/walk-migrations.mjs';

const WORKER = fixture('migrate-worker.mjs');

describe.each(['sqlite', 'file'] as const)('migrations across processes on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  let url: string;
  beforeEach(async () => {
    dir = await tempDir('migrate-proc');
    url = urlFor(backend, dir.path);
  });
  afterEach(async () => dir.dispose());

  it('a migrator killed inside its write loop leaves the store exactly as before the run', async () => {
    let store = await open(url);
    await store.kv('app').set('theme', 'dark');
    await store.collection('tasks').insert({ id: 't1' });
    await store.migrate({
      migrations: [
        {
          name: '000_table',
          up: backend === 'sqlite' ? 'CREATE TABLE loop (i INTEGER)' : async (m) => void (await m.kv('app').set('table', true)),
        },
      ],
    });
    const before = await dump(store, backend, dir.path);
    await store.close();

    const child = new LineChild(WORKER, [url, 'loop']);
    await child.waitFor('W', 20_000);
    await sleep(30);
    child.kill();
    expect((await child.exit(10_000)).signal).toBe('SIGKILL');

    store = await open(url);
    try {
      // The next run finds the dead run's record and cleans up before anything else.
      const cleaned = await store.migrate({ migrations: [] });
      expect(cleaned.recovered?.action).toBe('restored');
      expect(await dump(store, backend, dir.path)).toBe(before);
      const rerun = await store.migrate({
        migrations: [
          {
            name: '010_loop',
            up: async (m) => {
              for (let i = 0; i < 300; i++) await m.kv('loop').set(`k${i}`, i);
            },
          },
        ],
      });
      expect(rerun.applied).toEqual(['010_loop']);
      expect(await store.kv('loop').count()).toBe(300);
      expect((await store.verify()).ok).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('a batched migration killed mid-walk resumes after its last committed batch', async () => {
    let store = await open(url);
    await store
      .collection('docs')
      .insertMany(Array.from({ length: 200 }, (_, i) => ({ id: `d${String(i).padStart(3, '0')}`, n: 0 })));
    await store.close();

    const child = new LineChild(WORKER, [url, 'walk']);
    await child.waitFor((l) => l === 'B 60', 20_000, 'six batches');
    child.kill();
    await child.exit(10_000);

    store = await open(url);
    try {
      let batches = 0;
      // The child's own migration (one source): a run resumes only with the code that made its checkpoint.
      const result = await store.migrate({ migrations: [walkDocs(() => void batches++)] });
      expect(result.recovered?.action).toBe('resumed');
      expect(result.applied).toEqual(['020_walk']);
      expect(batches).toBeLessThanOrEqual(15); // 5 of the 20 batches had committed when the 6th printed
      expect(batches).toBeGreaterThan(0);
      // Every document was walked exactly once: none skipped, none twice.
      const docs = await store.collection('docs').query({});
      expect(docs).toHaveLength(200);
      expect(docs.filter((d) => d.n !== 1)).toEqual([]);
      expect((await store.migrations.status()).map((s) => s.state)).toEqual(['applied']);
    } finally {
      await store.close();
    }
  });

  it('4 migrators started at once: each migration runs exactly once, the others wait and see it applied', async () => {
    const migrations = join(dir.path, 'migrations');
    const log = join(dir.path, 'effects.log');
    await mkdir(migrations);
    for (const [name, pause] of [
      ['001_a', 0],
      ['002_slow', 300],
      ['003_c', 0],
    ] as const) {
      await writeFile(
        join(migrations, `${name}.mjs`),
        `import { appendFileSync } from 'node:fs';
export async function up(m) {
  appendFileSync(${JSON.stringify(log)}, '${name} ' + process.pid + '\\n');
  await new Promise((r) => setTimeout(r, ${pause}));
  await m.kv('effects').incr('${name}');
}
`,
      );
    }
    appendFileSync(log, '');
    const store = await open(url);
    await store.kv('effects').set('probe', 0); // the store exists before the workers race
    await store.close();
    const workers = Array.from({ length: 4 }, () => new LineChild(WORKER, [url, 'concurrent', migrations], { stdin: true }));
    const results = await runTogether<MigrateResult>(workers, 60_000);
    const applied = results.flatMap((r) => r.applied).sort();
    expect(applied).toEqual(['001_a', '002_slow', '003_c']);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0]).sort()).toEqual(['001_a', '002_slow', '003_c']);
    const check = await open(url);
    try {
      for (const name of ['001_a', '002_slow', '003_c']) expect(await check.kv('effects').get(name)).toBe(1);
    } finally {
      await check.close();
    }
  });
});
