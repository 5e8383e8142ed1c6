// Four processes walking the SAME stream at one moment (sqlite and file): every page's items
// and range land, the stored state stays the kit's shape, a checkpoint any walker reads is
// never ahead of the items (pages at or before it are all held, read in one transaction),
// and the checkpoint is the last save's (last writer wins): a walker may find it moved
// back by a slower walker and refetch pages, which the docs say.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LineChild, runTogether, strata } from '../reliability/helpers.js';

const worker = fileURLToPath(new URL('./sync-race-worker.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'strata-sync-race-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PAGES = 40;
const PER_PAGE = 5;

describe.each(['sqlite', 'file'])('four walkers of one stream at once (%s)', (driver) => {
  it('lose no item or range, and never read a checkpoint ahead of the items', async () => {
    const url = driver === 'sqlite' ? `sqlite:${join(dir, 'race.db')}` : `file:${join(dir, 'race')}`;
    const workers = Array.from(
      { length: 4 },
      () => new LineChild(worker, [url, String(PAGES), String(PER_PAGE)], { stdin: true }),
    );
    const results = await runTogether<{ start: number; saved: number[]; seen: number[]; ahead: number }>(workers, 55_000);
    for (const r of results) {
      expect(r.ahead).toBe(0);
      // Each walked to the end, or (started late) found the checkpoint there already.
      expect(r.start >= PAGES || r.saved.at(-1)! >= PAGES || r.seen.at(-1)! >= PAGES).toBe(true);
    }
    // Every page was saved by some walker.
    const all = new Set(results.flatMap((r) => r.saved));
    expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: PAGES }, (_, i) => i + 1));
    const store = await strata.openStore(url);
    try {
      const state = (await store.kv('sync.streams').get('items')) as {
        covered: number[][];
        checkpoint: { page: number } | null;
      };
      expect(state.covered).toEqual([[1, PAGES * PER_PAGE]]);
      expect(state.checkpoint).toEqual({ page: PAGES });
      const items = (await store.collection('items').query({}, { sort: { at: 1 } })) as Array<{ at: number }>;
      expect(items.map((i) => i.at)).toEqual(Array.from({ length: PAGES * PER_PAGE }, (_, i) => i + 1));
    } finally {
      await store.close();
    }
  }, 60_000);
});
