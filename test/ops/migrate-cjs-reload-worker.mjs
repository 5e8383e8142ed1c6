// Child of test/ops/migrate-cjs-reload.test.ts: one plain node process (no test runner's
// loader in between, so require's cache is node's own). For each file name, in a directory
// and store of its own: imports the migrations directory through status(), edits the module
// file, runs migrate, and prints one line: what the migration wrote and the checksum recorded.
// usage: node migrate-cjs-reload-worker.mjs <root> <first text> <second text> <file name>...
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openStore } from '../../dist/index.js';

const [root, first, second, ...names] = process.argv.slice(2);
for (const [i, name] of names.entries()) {
  const dir = join(root, `m${i}`);
  await mkdir(dir);
  await writeFile(join(dir, name), first);
  const store = await openStore({ url: `sqlite:${join(root, `s${i}.db`)}`, sweepInterval: false });
  await store.migrations.status({ dir });
  await writeFile(join(dir, name), second);
  const result = await store.migrate({ dir });
  const after = await store.migrations.status({ dir });
  const value = await store.kv('app').get('v');
  process.stdout.write(`${JSON.stringify({ name, applied: result.applied, value, recordedChecksum: after[0]?.checksum })}\n`);
  await store.close();
}
