// The owner records are written while processes can be killed at any instruction: a record
// must appear whole or not at all, so that a SIGKILL between creating the file and writing it
// never leaves an empty or partial record that verify() then reports as damage. Temp files
// (`.tmp-*`) are work in progress, not records: verify() skips them and the next open deletes
// those of dead processes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Child, files, rng, script, sleep, tempDir } from './helpers.js';

const { fileDriver } = files;
const SEED = Number(process.env.STRATA_TEST_SEED ?? 4242);
const dir = tempDir('owner-kill');
afterAll(() => dir.dispose());

describe('file driver: owner records under SIGKILL', () => {
  // README.md: "a child process ... is killed with SIGKILL at random moments ... with
  // `verify()` clean". Two processes churn through owner records (one per lock instance)
  // and compaction claims; each is killed 30 times at a random moment.
  it('no owner record or compaction claim is ever left empty or partial, and verify() is clean afterwards', async () => {
    const random = rng(SEED);
    const spawn = (): Child => new Child(script('lock-churn-worker.mjs'), [dir.path]);
    for (let round = 0; round < 30; round++) {
      const workers = [spawn(), spawn()];
      await Promise.all(workers.map((w) => w.waitFor((l) => l === 'R', 30_000)));
      await sleep(5 + random() * 40);
      for (const w of workers) w.kill();
      await Promise.all(workers.map((w) => w.exited));
      for (const name of readdirSync(dir.path).filter(
        (n) => (n.endsWith('.owner') || n === 'strata.compacting') && !n.startsWith('.tmp-'),
      ))
        expect(readFileSync(join(dir.path, name), 'utf8'), `${name} after round ${round}, seed ${SEED}`).toMatch(
          /^\{.*\} [0-9a-f]{8}$/,
        );
    }
    const d = fileDriver({ dir: dir.path });
    try {
      expect((await d.verify()).issues).toEqual([]);
      // A killed writer's temp records are debris: opening the store deleted them.
      await d.batch([{ type: 'put', space: 'kv.a', key: 'k', value: '1', expiresAt: null }], Date.now());
      expect(readdirSync(dir.path).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    } finally {
      await d.close();
    }
  }, 120_000);
});
