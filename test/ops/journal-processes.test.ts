// The journal across processes: 4 writer processes racing (one opened without the journal
// option: the store remembers it) leave contiguous seq numbers, one entry per committed
// change, and a point-in-time restore to the end equals the live store; a SIGKILLed writer
// never leaves a write without its entry or an entry without its write (the whole journal
// replayed onto the empty store equals what is stored).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fixture, LineChild, runTogether, sleep, strata, tempDir } from '../reliability/helpers.js';
import { dumpAll, rawDriver, read, replay, SHARED_DRIVERS, userView } from './journal-helpers.js';

const { openStore } = strata;
let dir: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('journal');
});
afterEach(async () => {
  await dir.dispose();
});

const CASES = SHARED_DRIVERS;

describe.each(CASES)('journal across processes on $name', ({ url }) => {
  it('4 racing writers: contiguous seq, one entry per change, PITR to the end equals the live store', async () => {
    const at = url(dir.path);
    const store = await openStore({ url: at, journal: { retention: '7d' }, sweepInterval: false });
    const backups = join(dir.path, 'backups');
    const backup = await store.backup({ to: backups });
    const workers = [0, 1, 2, 3].map(
      (id) => new LineChild(fixture('journal-racer.mjs'), [at, String(id), '150', id === 3 ? '0' : '1'], { stdin: true }),
    );
    const reports = await runTogether<{ changes: number }>(workers);
    const changes = reports.reduce((sum, r) => sum + r.changes, 0);
    const now = Date.now();
    const raw = rawDriver(store);
    const slice = await read.readJournalAfter(raw, null, now, now); // checks seq, checksums, chain
    expect(slice.entries.map((e) => e.seq)).toEqual(Array.from({ length: changes }, (_, i) => i + 1));
    const live = userView(await dumpAll(raw, now));
    expect(await store.kv('race').get('shared')).toBe(4 * 30);
    const done = await store.restore(backups, { toTime: now });
    expect(done).toMatchObject({ id: backup.id, pointInTime: { entries: changes, fromSeq: 1, toSeq: changes } });
    expect(userView(await dumpAll(raw, Date.now()))).toEqual(live);
    await store.close();
  });

  it('a SIGKILLed writer leaves no write without its entry and no entry without its write', async () => {
    const at = url(dir.path);
    for (let round = 0; round < 3; round++) {
      const child = new LineChild(fixture('journal-killed.mjs'), [at]);
      await child.waitFor('R', 20_000, 'writer started');
      await sleep(50 + round * 40);
      child.kill(); // SIGKILL
      await child.exit(10_000);
      const store = await openStore({ url: at, sweepInterval: false });
      const now = Date.now();
      const raw = rawDriver(store);
      const slice = await read.readJournalAfter(raw, null, now, now);
      const rebuilt = replay.replayJournal(new Map(), slice.entries);
      expect(slice.entries.length).toBeGreaterThan(20);
      expect(userView(rebuilt)).toEqual(userView(await dumpAll(raw, now)));
      await store.close();
    }
  });
});
