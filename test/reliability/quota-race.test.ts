// Quotas across processes: four processes racing to add keys to a namespace limited to 100
// records (single sets, setMany batches, transactions) never take it past 100, and every
// record they were told was written is there. The check runs inside each driver's atomic
// write step, so it holds however the writes interleave.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fixture, LineChild, runTogether, strata, tempDir } from './helpers.js';

const { openStore } = strata;

const CASES = [
  { name: 'sqlite', url: (dir: string) => `sqlite:${join(dir, 'q.db')}?durability=normal` },
  { name: 'file', url: (dir: string) => `file:${join(dir, 'store')}?durability=normal` },
];

interface WorkerStats {
  accepted: number;
  refused: number;
}

async function race(url: string, quota: object, scope: 'kv' | 'store'): Promise<WorkerStats[]> {
  const modes = ['set', 'many', 'tx', 'set'];
  const workers = modes.map(
    (mode, i) =>
      new LineChild(fixture('quota-worker.mjs'), [url, mode, '60', String(i), JSON.stringify(quota), scope], { stdin: true }),
  );
  return runTogether<WorkerStats>(workers, 90_000);
}

for (const c of CASES)
  describe(`${c.name}: quotas across processes`, () => {
    for (const scope of ['kv', 'store'] as const)
      it(`4 processes adding keys never take a ${scope === 'kv' ? 'namespace' : 'store-wide'} quota of 100 records past it`, async () => {
        const dir = await tempDir(`quota-${c.name}-${scope}`);
        try {
          const url = c.url(dir.path);
          const quota = { records: 100 };
          const stats = await race(url, quota, scope);
          const store = await openStore(scope === 'store' ? { url, sweepInterval: false, quota } : { url, sweepInterval: false });
          try {
            const kv = scope === 'store' ? store.kv('q') : store.kv('q', { quota });
            const count = await kv.count();
            expect(count).toBeLessThanOrEqual(100);
            expect(count).toBe(stats.reduce((sum, s) => sum + s.accepted, 0));
            expect(stats.reduce((sum, s) => sum + s.refused, 0)).toBeGreaterThan(0);
            // Fill what is left one key at a time: the limit is reached exactly, never passed.
            let added = 0;
            for (;;) {
              try {
                await kv.set(`fill-${added}`, added);
                added++;
              } catch (error) {
                expect((error as { code?: string }).code).toBe('QUOTA_EXCEEDED');
                break;
              }
            }
            expect(await kv.count()).toBe(100);
          } finally {
            await store.close();
          }
        } finally {
          await dir.dispose();
        }
      }, 120_000);
  });
