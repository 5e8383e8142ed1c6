// Child for the SIGKILL and race tests of the sync kit (sync-kill*.test.ts, sync-race.test.ts):
// walks a deterministic paginated source from the stream's checkpoint, saving each page
// (items + cover + checkpoint in one transaction) and announcing the open, each fetch and
// each commit on stdout, synchronously, until the parent kills it.
// args: <store url> <pages | 'probe'> <per page> [batch size, default 7] [pad bytes, default 0]
// 'probe' only says where a run would start. A pad makes items bigger, so saves take longer
// and more kills land inside one.
import { openStore } from '../../dist/index.js';
import { SyncStream } from '../../dist/kits/sync/index.js';
import { line } from '../fixtures/sync-line.mjs';

const [url, pagesArg, perPageArg, batchArg = '7', padArg = '0'] = process.argv.slice(2);
const pages = Number(pagesArg);
const perPage = Number(perPageArg);
const pad = 'x'.repeat(Number(padArg));
line('opening');
const store = await openStore(url);
const stream = new SyncStream(store, 'items', {
  collection: store.collection('items'),
  cursor: (item) => item.at,
  batchSize: Number(batchArg),
});
const start = ((await stream.checkpoint())?.page ?? 0) + 1;
line(`start ${start}`);
if (pagesArg === 'probe') {
  await store.close();
  process.exit(0);
}
for (let page = start; page <= pages; page++) {
  line(`fetch ${page}`);
  const first = (page - 1) * perPage + 1;
  const items = Array.from({ length: perPage }, (_, i) => ({ id: `i${first + i}`, at: first + i, page, ...(pad && { pad }) }));
  await stream.save(items, { cover: [[first, first + perPage - 1]], checkpoint: { page } });
  line(`saved ${page}`);
}
await stream.save([], { checkpoint: null });
line('done');
await store.close();
