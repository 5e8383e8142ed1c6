// A batched migration killed mid-walk is resumed only by the very source whose batches
// committed, and only when it is the first migration pending: the checkpoint records that
// source's checksum. An edited migration, or a new one sorting before it (a teammate's,
// merged meanwhile), makes the next run restore the dead run's restore point and apply
// everything in name order, so each document is handled exactly once, by one version of the
// code. A new migration sorting after it does not stop the resume.
import { mkdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, LineChild, tempDir } from '../reliability/helpers.js';
import { open, urlFor } from './migrate-helpers.js';

const STALL = fixture('migrate-stall.mjs');
const sha = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Adds `add` to each document's n, 10 at a time; the killed child prints `B <done>` per batch. */
const walk = (add: number): string => `import { writeSync } from 'node:fs';
export async function up(m) {
  let done = 0;
  await m.batches('docs', { size: 10 }, async (docs, b) => {
    for (const d of docs) await b.collection('docs').update(d.id, { n: d.n + ${add} });
    done += docs.length;
    if (process.env.ROLE === 'killed') {
      writeSync(1, 'B ' + done + '\\n');
      await new Promise((r) => setTimeout(r, 20));
    }
  });
}
`;

/** Records the sum of n it saw: 0 when it ran before the walk touched any document. */
const SEES_SUM = `export async function up(m) {
  const docs = await m.collection('docs').query({});
  await m.kv('app').set('sum', docs.reduce((s, d) => s + d.n, 0));
}
`;

describe.each(['sqlite', 'file'] as const)('resuming a killed batched migration on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  let url: string;
  let migrations: string;
  beforeEach(async () => {
    dir = await tempDir('migrate-resume-source');
    url = urlFor(backend, dir.path);
    migrations = join(dir.path, 'migrations');
    await mkdir(migrations);
    await writeFile(join(migrations, '020_walk.mjs'), walk(1));
    const store = await open(url);
    await store
      .collection('docs')
      .insertMany(Array.from({ length: 100 }, (_, i) => ({ id: `d${String(i).padStart(3, '0')}`, n: 0 })));
    await store.close();
    const child = new LineChild(STALL, [url, migrations, '30000'], { env: { ...process.env, ROLE: 'killed' } });
    try {
      await child.waitFor('B 40', 30_000, 'four batches');
    } finally {
      child.kill();
    }
    await child.exit(10_000);
  });
  afterEach(async () => dir.dispose());

  it('a new migration sorting before it: restored, then both run in name order, each document once', async () => {
    await writeFile(join(migrations, '015_new.mjs'), SEES_SUM);
    const store = await open(url);
    try {
      const result = await store.migrate({ dir: migrations });
      expect(result).toMatchObject({ applied: ['015_new', '020_walk'], recovered: { action: 'restored' } });
      expect(await store.kv('app').get('sum')).toBe(0);
      const docs = await store.collection('docs').query({});
      expect(docs).toHaveLength(100);
      expect(docs.filter((d) => d.n !== 1)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('the interrupted migration edited since: restored and run with the new code only, whose checksum is recorded', async () => {
    await writeFile(join(migrations, '020_walk.mjs'), walk(100));
    const store = await open(url);
    try {
      const result = await store.migrate({ dir: migrations });
      expect(result).toMatchObject({ applied: ['020_walk'], recovered: { action: 'restored' } });
      const docs = await store.collection('docs').query({});
      expect(docs).toHaveLength(100);
      expect(docs.filter((d) => d.n !== 100)).toEqual([]);
      expect((await store.migrations.status())[0]).toMatchObject({ state: 'applied', checksum: sha(walk(100)) });
    } finally {
      await store.close();
    }
  });

  // Which migrations may resume is decided above the backend: one backend shows it.
  it.runIf(backend === 'sqlite')(
    'a new migration sorting after it: resumed after the last committed batch, then the new one runs',
    async () => {
      await writeFile(join(migrations, '030_after.mjs'), SEES_SUM);
      const store = await open(url);
      try {
        const result = await store.migrate({ dir: migrations });
        expect(result).toMatchObject({ applied: ['020_walk', '030_after'], recovered: { action: 'resumed' } });
        expect(await store.kv('app').get('sum')).toBe(100);
        expect((await store.collection('docs').query({})).filter((d) => d.n !== 1)).toEqual([]);
      } finally {
        await store.close();
      }
    },
  );
});
