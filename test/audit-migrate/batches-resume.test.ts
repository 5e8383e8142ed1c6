// Audit: resuming a batched migration after a SIGKILL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, LineChild, tempDir } from '../reliability/helpers.js';
import { open, urlFor } from '../ops/migrate-helpers.js';
import type { Migration } from '../../src/index.js';

const WORKER = fixture('migrate-worker.mjs');

const walk = (counter: { batches: number }): Migration => ({
  name: '020_walk',
  up: async (m) => {
    await m.batches('docs', { size: 10 }, async (docs, b) => {
      counter.batches++;
      for (const d of docs) await b.collection('docs').update(d.id as string, { n: (d.n as number) + 1 });
    });
  },
});

describe.each(['sqlite', 'file'] as const)('batched resume on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  let url: string;
  beforeEach(async () => {
    dir = await tempDir('audit-batches');
    url = urlFor(backend, dir.path);
    const store = await open(url);
    await store
      .collection('docs')
      .insertMany(Array.from({ length: 200 }, (_, i) => ({ id: `d${String(i).padStart(3, '0')}`, n: 0 })));
    await store.close();
    const child = new LineChild(WORKER, [url, 'walk']);
    await child.waitFor((l) => l === 'B 60', 20_000, 'six batches');
    child.kill();
    await child.exit(10_000);
  });
  afterEach(async () => dir.dispose());

  // README "Batched migrations resume instead": "after a kill the next run continues after the
  // last committed batch (each document is handled once ...)". docs/migrations.md: "each
  // document is handled exactly once". Here the next run's source also holds a new migration
  // that sorts before the interrupted one (a teammate's migration merged meanwhile): running it
  // first clears the checkpoint, so 020_walk starts again from the first document and the
  // committed batches are applied a second time (n === 2).
  it('a new migration sorting before the interrupted one: every document is still handled once', async () => {
    const store = await open(url);
    try {
      const counter = { batches: 0 };
      const result = await store.migrate({
        migrations: [{ name: '015_new', up: async (m) => void (await m.kv('app').set('new', true)) }, walk(counter)],
      });
      expect(result.recovered?.action).toBe('resumed');
      expect(result.applied).toEqual(['015_new', '020_walk']);
      const docs = await store.collection('docs').query({});
      expect(docs).toHaveLength(200);
      expect(docs.filter((d) => d.n !== 1).map((d) => `${d.id as string}=${d.n as number}`)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  // README "Changed sources are refused" and "Batched migrations resume instead ... each
  // document is handled once"; docs/migrations.md: the record's checksum is "the sha256 of the
  // migration's source". The run record's checkpoint does not note which source it was made by:
  // a run killed mid-walk whose migration was then edited is resumed with the new code, so the
  // committed batches hold the old code's effect, the rest the new code's, and the record
  // claims the new source made all of it. Expected: the run is restored (or refused), never a mix.
  it('the interrupted migration was edited before the next run: no mix of old and new code', async () => {
    const store = await open(url);
    try {
      const result = await store
        .migrate({
          migrations: [
            {
              name: '020_walk',
              up: async (m) => {
                await m.batches('docs', { size: 10 }, async (docs, b) => {
                  for (const d of docs) await b.collection('docs').update(d.id as string, { n: (d.n as number) + 100 });
                });
              },
            },
          ],
        })
        .catch((e: unknown) => e);
      const docs = await store.collection('docs').query({});
      const values = [...new Set(docs.map((d) => d.n as number))].sort();
      // Either restored and re-run with the new code (all 100), refused with the store as the
      // dead run left it, or restored (all 0): never 1 for some and 100 for the others.
      expect({ values, result: result instanceof Error ? (result as { code?: string }).code : result }).toMatchObject({
        values: expect.toSatisfy((v: number[]) => v.length === 1),
      });
    } finally {
      await store.close();
    }
  });
});
