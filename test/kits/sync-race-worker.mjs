// Child for test/kits/sync-race.test.ts: one of several walkers of the SAME stream started
// at one moment (fixtures/start-barrier.mjs). Each walks a deterministic paginated source
// from the stream's checkpoint as it reads it, saving each page (items + cover + checkpoint
// in one transaction), and prints `D <json>` with the pages it saved and the checkpoints it
// saw. args: <store url> <pages> <per page>
import { openStore } from '../../dist/index.js';
import { SyncStream } from '../../dist/kits/sync/index.js';
import { startBarrier } from '../fixtures/start-barrier.mjs';

const [url, pagesArg, perPageArg] = process.argv.slice(2);
const pages = Number(pagesArg);
const perPage = Number(perPageArg);
const store = await openStore(url);
const stream = new SyncStream(store, 'items', {
  collection: store.collection('items'),
  cursor: (item) => item.at,
  batchSize: 3,
});
await startBarrier();
/**
 * Runs `step` again when it ends in CONFLICT: four walkers saving the same stream state at
 * once can use up a transaction's reruns on a loaded machine, and an app retries then too.
 */
async function retried(step) {
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (error?.code !== 'CONFLICT') throw error;
    }
  }
}
const saved = [];
const seen = [];
// Pages at or before a checkpoint this walker read that were not all in the store at the
// same moment (one read-only transaction): must stay 0.
let ahead = 0;
// A walker that starts late may find every page saved already: it then saves nothing.
const start = (await stream.checkpoint())?.page ?? 0;
let page = start + 1;
while (page <= pages) {
  const first = (page - 1) * perPage + 1;
  const items = Array.from({ length: perPage }, (_, i) => ({ id: `i${first + i}`, at: first + i, page }));
  await retried(() => stream.save(items, { cover: [[first, first + perPage - 1]], checkpoint: { page } }));
  saved.push(page);
  // The next page is the one after the checkpoint as stored now (another walker may have
  // moved it), or after ours when the stored one is behind.
  // Judged on what the committed read saw, not on an attempt that was rerun.
  const [stored, held] = await retried(() =>
    store.transaction(async (tx) => {
      const state = await tx.kv('sync.streams').get('items');
      const c = state?.checkpoint?.page ?? 0;
      return [c, await tx.collection('items').count({ at: { $lte: c * perPage } })];
    }),
  );
  if (held !== stored * perPage) ahead++;
  seen.push(stored);
  page = Math.max(stored, page) + 1;
}
process.stdout.write(`D ${JSON.stringify({ start, saved, seen, ahead })}\n`);
await store.close();
