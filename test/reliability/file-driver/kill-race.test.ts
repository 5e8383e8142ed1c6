// 4 processes racing on one file store (lock, group commit, compaction every 4 KiB)
// while the parent SIGKILLs a random one every ~150-400 ms and starts a replacement.
import { afterAll, describe, expect, it } from 'vitest';
import { Child, files, rng, script, sleep, tempDir } from './helpers.js';

const { fileDriver } = files;
const SEED = Number(process.env.STRATA_TEST_SEED ?? 777);
const dir = tempDir('kill-race', true);
afterAll(() => dir.dispose());

describe('file driver: 4 racing processes, killed at random', () => {
  // README.md: "a child process writing in a loop is killed with SIGKILL at random moments ...
  // every acknowledged write must be there after reopening, with `verify()` clean. Several
  // processes can share one SQLite file or file store". Seeded, so a failure reproduces.
  it('counter = acknowledged incrs (+ at most the in-flight ones), verify clean', async () => {
    const random = rng(SEED);
    const live: Child[] = [];
    const dead: Child[] = [];
    const spawn = (): Child => new Child(script('incr-kill-worker.mjs'), [dir.path]);
    for (let i = 0; i < 4; i++) live.push(spawn());
    await Promise.all(live.map((w) => w.waitFor((l) => l === 'R', 30_000)));
    const until = Date.now() + 15_000;
    try {
      while (Date.now() < until) {
        await sleep(150 + random() * 250);
        const i = Math.floor(random() * live.length);
        const victim = live[i]!;
        victim.kill();
        await victim.exited;
        dead.push(victim);
        live[i] = spawn();
      }
      await sleep(500);
    } finally {
      for (const w of live) w.kill();
      await Promise.all(live.map((w) => w.exited));
    }
    const all = [...dead, ...live];
    let acked = 0;
    let inFlight = 0;
    for (const w of all) {
      const a = w.lines.filter((l) => l === 'A').length;
      const wr = w.lines.filter((l) => l === 'W').length;
      acked += a;
      inFlight += wr - a;
    }
    const d = fileDriver({ dir: dir.path });
    try {
      const report = await d.verify();
      expect(report.issues).toEqual([]);
      const counter = Number((await d.get('kv.race', 'counter', Date.now()))?.value ?? 0);
      expect(acked).toBeGreaterThan(200);
      expect(counter, `acked ${acked}, in flight ${inFlight}, seed ${SEED}`).toBeGreaterThanOrEqual(acked);
      expect(counter, `acked ${acked}, in flight ${inFlight}, seed ${SEED}`).toBeLessThanOrEqual(acked + inFlight);
    } finally {
      await d.close();
    }
  }, 60_000);
});
