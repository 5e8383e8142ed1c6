// A journaled store whose entries passed their retention (the app was down for a while, or
// the retention was lowered): the sweep that prunes them gives the event loop back between
// its steps of 1,000 entries (docs/journal.md "Retention"). Before the fix the prune loop
// never yielded on sqlite and memory (their calls settle at once): 40,000 entries held the
// loop for 2.5 s on sqlite, 80,000 for 1.9 s on memory. The bound is the sweep's (README
// "Expiry and the sweeper"): generous, it catches seconds-long holds, not a slow machine.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { longestPause } from '../event-loop.js';

const ENTRIES = { sqlite: 40_000, memory: 80_000 } as const;
const LIMIT_MS = 750;

describe('a sweep that prunes the journal gives the event loop back', () => {
  for (const driver of ['sqlite', 'memory'] as const) {
    it(`${driver}: ${ENTRIES[driver]} journal entries past retention, longest event-loop pause < ${LIMIT_MS} ms`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sweep-journal-stall-'));
      let now = Date.now();
      const url = driver === 'sqlite' ? `sqlite:${join(dir, 's.db')}` : 'memory:';
      const store = await openStore({ url, sweepInterval: false, clock: () => now, journal: { retention: '1h' } });
      try {
        const kv = store.kv('events');
        for (let i = 0; i < ENTRIES[driver]; i += 5_000) {
          await kv.setMany(Array.from({ length: 5_000 }, (_, j) => [`k${i + j}`, { n: i + j }] as const));
        }
        now += 2 * 3_600_000; // every entry is now older than the retention
        const longest = await longestPause(() => store.purgeExpired());
        // The prune did happen (control).
        const driverOf = (store as unknown as { driver: { count(s: string, q: object, n: number): Promise<number> } }).driver;
        expect(await driverOf.count('meta.journal', {}, now)).toBeLessThan(10);
        expect(longest).toBeLessThan(LIMIT_MS);
      } finally {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    }, 60_000);
  }
});
