// m.batches across a SIGKILL: a migration with two walks killed inside the second resumes
// inside the second (the first is not walked again, its progress counts on), and a run killed
// mid-walk whose migration is no longer in the source is undone from its restore point
// instead of being reported "resumed" and left half done for ever.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, LineChild, tempDir } from '../reliability/helpers.js';
import type { MigrateProgress } from '../../src/ops/migrate-types.js';
import { open, urlFor } from './migrate-helpers.js';

const STALL = fixture('migrate-stall.mjs');

const TWO_WALKS = `import { writeSync } from 'node:fs';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export async function up(m) {
  let one = 0, two = 0;
  await m.batches('docs', { size: 10 }, async (docs, b) => {
    for (const d of docs) await b.collection('docs').update(d.id, { a: d.a + 1 });
    one += docs.length;
    if (process.env.ROLE === 'killed') writeSync(1, 'B1 ' + one + '\\n');
  });
  await m.kv('app').set('between', true);
  await m.batches('docs', { size: 10 }, async (docs, b) => {
    for (const d of docs) await b.collection('docs').update(d.id, { b: d.b + 1 });
    two += docs.length;
    if (process.env.ROLE === 'killed') {
      writeSync(1, 'B2 ' + two + '\\n');
      await sleep(20);
    }
  });
}
`;

describe.each(['sqlite', 'file'] as const)('m.batches after a SIGKILL on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  let url: string;
  let migrations: string;
  beforeEach(async () => {
    dir = await tempDir('migrate-batches');
    url = urlFor(backend, dir.path);
    migrations = join(dir.path, 'migrations');
    await mkdir(migrations);
    await writeFile(join(migrations, '030_walks.mjs'), TWO_WALKS);
    const store = await open(url);
    await store
      .collection('docs')
      .insertMany(Array.from({ length: 100 }, (_, i) => ({ id: `d${String(i).padStart(3, '0')}`, a: 0, b: 0 })));
    await store.close();
  });
  afterEach(async () => dir.dispose());

  async function killInSecondWalk(): Promise<void> {
    const child = new LineChild(STALL, [url, migrations, '30000'], { env: { ...process.env, ROLE: 'killed' } });
    try {
      await child.waitFor('B2 40', 30_000, 'four batches of the second walk');
    } finally {
      child.kill();
    }
    await child.exit(10_000);
  }

  it('resumes inside the second walk: the first walk and the committed batches are not run again', async () => {
    await killInSecondWalk();
    const store = await open(url);
    try {
      const run = JSON.parse((await store.driver.get('meta.migrations', 'run', Date.now()))!.value) as {
        checkpoint: { call: number; done: number };
      };
      expect(run.checkpoint.call).toBe(1);
      const progress: MigrateProgress[] = [];
      const result = await store.migrate({ dir: migrations }, { onProgress: (p) => progress.push(p) });
      expect(result).toMatchObject({ applied: ['030_walks'], recovered: { action: 'resumed' } });
      const docs = await store.collection('docs').query({});
      expect(docs).toHaveLength(100);
      expect(docs.filter((d) => d.a !== 1 || d.b !== 1)).toEqual([]);
      expect(await store.kv('app').get('between')).toBe(true);
      // Progress goes on from the checkpoint: the first batch after the resume counts the committed ones.
      const batches = progress.filter((p) => p.phase === 'batch');
      expect(batches[0]!.done).toBe(run.checkpoint.done + 10);
      expect(batches.at(-1)).toMatchObject({ done: 100, total: 100 });
      expect(await store.driver.get('meta.migrations', 'run', Date.now())).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('the interrupted migration is no longer in the source: the run is restored, not left half done', async () => {
    await killInSecondWalk();
    const store = await open(url);
    try {
      const result = await store.migrate({ migrations: [] });
      expect(result.recovered?.action).toBe('restored');
      expect(await store.driver.get('meta.migrations', 'run', Date.now())).toBeNull();
      const docs = await store.collection('docs').query({});
      expect(docs.filter((d) => d.a !== 0 || d.b !== 0)).toEqual([]);
      expect(await store.kv('app').get('between')).toBeNull();
      // down is no longer blocked by the dead run, and the walk can be applied afresh.
      expect(await store.migrations.down({ to: null, source: { migrations: [] } })).toEqual({ reverted: [] });
      expect((await store.migrate({ dir: migrations })).applied).toEqual(['030_walks']);
      expect((await store.collection('docs').query({})).filter((d) => d.a !== 1 || d.b !== 1)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
