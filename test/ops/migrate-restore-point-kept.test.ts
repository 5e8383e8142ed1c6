// The restore point of a run whose process died survives the store's routine backup pruning.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, LineChild, sleep, tempDir } from '../reliability/helpers.js';
import { dump, open, urlFor } from './migrate-helpers.js';

const WORKER = fixture('migrate-worker.mjs');
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);

describe.each(['sqlite', 'file'] as const)('a dead run and `strata backup prune` on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  let url: string;
  beforeEach(async () => {
    dir = await tempDir('migrate-restore-point');
    url = urlFor(backend, dir.path);
  });
  afterEach(async () => dir.dispose());

  // README "A failed run is undone": `strata backup prune` keeps the backup of a run that did
  // not finish, so a routine `prune --keep 1` after the nightly backup (which would otherwise
  // delete it) leaves the next `migrate` able to restore the store to before the dead run.
  it('the next migrate still recovers after the backups are pruned', async () => {
    let store = await open(url);
    await store.kv('app').set('theme', 'dark');
    if (backend === 'sqlite') await store.migrate({ migrations: [{ name: '000_table', up: 'CREATE TABLE loop (i INTEGER)' }] });
    const before = await dump(store, backend, dir.path);
    await store.close();

    const child = new LineChild(WORKER, [url, 'loop']);
    await child.waitFor('W', 20_000);
    await sleep(30);
    child.kill();
    expect((await child.exit(10_000)).signal).toBe('SIGKILL');

    store = await open(url);
    try {
      await store.backup(); // the nightly backup
      await run(process.execPath, [CLI, '--url', url, 'backup', 'prune', '--keep', '1']);
      const result = await store.migrate({ migrations: [] }).catch((e: { code?: string; message?: string; hint?: string }) => e);
      expect(result, JSON.stringify(result)).toMatchObject({ recovered: { action: 'restored' } });
      expect(await dump(store, backend, dir.path)).toBe(before);
    } finally {
      await store.close();
    }
  });
});
