// A record the sweeper removes is a change: a watcher in another process gets its delete, on
// sqlite (through the change log) as on file. Before the fix sqlite removed expired rows
// without logging them, so a mirror in another process kept them forever (the local case
// is in the conformance watch suite).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineChild, sleep, strata, tempDir } from './helpers.js';

const WORKER = fileURLToPath(new URL('../fixtures/expire-worker.mjs', import.meta.url));

describe.each(['sqlite', 'file'] as const)('watch on %s: another process purging expired records', (driver) => {
  it('delivers their deletes here, in order with the writes around them', async () => {
    const dir = await tempDir('watch-expiry-remote');
    try {
      const url =
        driver === 'sqlite'
          ? `sqlite:${join(dir.path, 's.db')}?durability=normal`
          : `file:${join(dir.path, 'fs')}?durability=normal`;
      const store = await strata.openStore({ url, sweepInterval: false });
      const seen: string[] = [];
      const stop = store.kv('w').watch((c) => seen.push(`${c.type}:${c.key}:${c.origin}`));
      const child = new LineChild(WORKER, [url], { stdin: true });
      await child.waitFor('R', 30_000);
      child.send('go\n');
      child.proc.stdin!.end();
      const line = await child.waitFor((l) => l.startsWith('E '), 30_000);
      expect((await child.exit(30_000)).code).toBe(0);
      expect(JSON.parse(line.slice(2))).toEqual({ purged: 1 });
      // Until the put written after the purge arrives: every change before it has been read.
      for (let i = 0; i < 200 && !seen.includes('put:after:remote'); i++) await sleep(50);
      stop();
      await store.close();
      expect(seen).toEqual(['put:short:remote', 'put:stay:remote', 'delete:short:remote', 'put:after:remote']);
    } finally {
      await dir.dispose();
    }
  }, 60_000);
});
