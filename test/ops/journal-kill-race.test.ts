// Four writer processes racing on one journaled store, SIGKILLed at seeded random moments
// (staggered, so some die while others go on writing): the journal holds contiguous seq
// numbers with an intact chain, exactly one entry per change that committed (the whole journal
// replayed onto nothing equals the store), verify is clean, writes go on numbering from the
// last entry, and a point-in-time restore from a backup taken before the race to now gives
// the live state exactly.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { rng } from '../rng.js';
import { fixture, LineChild, sleep, strata, tempDir } from '../reliability/helpers.js';
import { dumpAll, entries, rawDriver, read, replay, userView } from './journal-helpers.js';

const { openStore } = strata;
let dir: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('journal-kill-race');
});
afterEach(async () => {
  await dir.dispose();
});

const CASES = [
  { name: 'sqlite', url: (d: string) => `sqlite:${join(d, 's.db')}?durability=normal`, seed: 0x5eed1 },
  { name: 'file', url: (d: string) => `file:${join(d, 'f')}?durability=normal`, seed: 0x5eed2 },
] as const;

describe.each(CASES)('4 writers SIGKILLed at random moments on $name', ({ url, seed }) => {
  it('contiguous, chained, one entry per committed change; PITR to now equals the live store', async () => {
    const at = url(dir.path);
    const random = rng(seed);
    const backups = join(dir.path, 'backups');
    const first = await openStore({ url: at, journal: { retention: '7d' }, sweepInterval: false });
    await first.kv('crash').set('before', 1);
    const backup = await first.backup({ to: backups });
    await first.close();
    let lastSeq = backup.journalSeq!;
    for (let round = 0; round < 2; round++) {
      const writers = [0, 1, 2, 3].map((id) => new LineChild(fixture('journal-kill-racer.mjs'), [at, String(id)]));
      try {
        await Promise.all(writers.map((w) => w.waitFor('R', 30_000, 'writer started')));
        for (const w of writers) {
          await sleep(Math.floor(random() * 150));
          w.kill(); // SIGKILL while the others keep writing
        }
        for (const w of writers) expect((await w.exit(10_000)).signal).toBe('SIGKILL');
      } finally {
        for (const w of writers) w.kill();
      }
      const store = await openStore({ url: at, sweepInterval: false });
      const now = Date.now();
      const raw = rawDriver(store);
      const slice = await read.readJournalAfter(raw, null, now, now); // every seq, checksum, link
      expect(slice.entries.map((e) => e.seq)).toEqual(Array.from({ length: slice.entries.length }, (_, i) => i + 1));
      expect(slice.entries.length).toBeGreaterThan(lastSeq + 4 * 20);
      expect(userView(replay.replayJournal(new Map(), slice.entries))).toEqual(userView(await dumpAll(raw, now)));
      expect((await store.verify()).ok).toBe(true);
      await store.kv('crash').set(`after-${round}`, round);
      const newest = (await raw.scan('meta.journal', {}, Date.now())).at(-1)!;
      expect(entries.parseEntry(newest.key, newest.value)).toMatchObject({
        seq: slice.entries.length + 1,
        key: `after-${round}`,
        prev: slice.entries.at(-1)!.hash,
      });
      lastSeq = slice.entries.length + 1;
      await store.close();
    }
    const store = await openStore({ url: at, sweepInterval: false });
    const raw = rawDriver(store);
    const now = Date.now();
    const live = userView(await dumpAll(raw, now));
    await sleep(2);
    const done = await store.restore(backups, { toTime: new Date() });
    expect(done).toMatchObject({ id: backup.id, pointInTime: { fromSeq: backup.journalSeq! + 1, toSeq: lastSeq } });
    expect(userView(await dumpAll(raw, Date.now()))).toEqual(live);
    expect((await store.verify()).ok).toBe(true);
    await store.close();
  }, 90_000);
});
