// store.import({ mode: 'replace' }) on a journaled store while another process keeps writing
// journaled sets: the README says an import is not journaled and a replace leaves every kv
// namespace and collection holding exactly the file, with the store's own records kept. The
// journal is one of them: every entry another process committed before the swap stays (so
// seq numbers stay contiguous and point-in-time restore keeps the history before the import),
// and every acknowledged write is either in the store or was made before a replace emptied its
// namespace.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fixture, LineChild, sleep, strata, tempDir } from '../reliability/helpers.js';
import { rawDriver, read, SHARED_DRIVERS } from './journal-helpers.js';

const { openStore } = strata;
let dir: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('transfer-journal');
});
afterEach(async () => {
  await dir.dispose();
});

const CASES = SHARED_DRIVERS;

/** An export of 20,000 kv records: staging it takes long enough for the writer to commit meanwhile. */
async function bigExport(): Promise<string> {
  const source = await openStore({ url: 'memory:', sweepInterval: false });
  await source
    .kv('bulk')
    .setMany(Array.from({ length: 20_000 }, (_, i) => [`b${i}`, { i, pad: 'x'.repeat(40) }] as [string, unknown]));
  const path = join(dir.path, 'big.strata');
  await source.export(path);
  await source.close();
  return path;
}

describe.each(CASES)('import replace on a journaled store on $name', ({ url }) => {
  it('keeps every journal entry another process commits during it: contiguous, verify clean, no acknowledged write lost', async () => {
    const file = await bigExport();
    const at = url(dir.path);
    const store = await openStore({ url: at, journal: { retention: '7d' }, sweepInterval: false });
    await store.kv('w').set('before', 1);
    const writer = new LineChild(fixture('journal-import-writer.mjs'), [at], { stdin: true });
    try {
      await writer.waitFor('R', 30_000, 'writer ready');
      await writer.waitFor('A 20', 30_000, 'writer writing');
      for (let round = 0; round < 3; round++) {
        await store.import(file, { mode: 'replace' });
        await sleep(50);
      }
      const acked = (): number => writer.lines.filter((l) => l.startsWith('A ')).length;
      const seen = acked();
      await writer.waitFor(`A ${seen + 20}`, 30_000, 'writes after the imports');
      writer.proc.stdin!.end();
      const exit = await writer.exit(30_000);
      expect(exit.code, writer.stderr).toBe(0);
    } finally {
      writer.kill();
    }
    const line = writer.lines.find((l) => l.startsWith('D '));
    const { acked } = JSON.parse(line!.slice(2)) as { acked: number };
    const now = Date.now();
    const raw = rawDriver(store);
    // Checks seq numbers, checksums and the chain from the journal's start.
    const slice = await read.readJournalAfter(raw, null, now, now);
    expect(slice.entries.map((e) => e.seq)).toEqual(Array.from({ length: slice.entries.length }, (_, i) => i + 1));
    // One entry per acknowledged set, none dropped by the swap.
    const written = new Set(slice.entries.filter((e) => e.space === 'kv.w' && e.op === 'put').map((e) => e.key));
    const missing = Array.from({ length: acked }, (_, i) => `n${i}`).filter((k) => !written.has(k));
    expect(missing).toEqual([]);
    expect(written.has('before')).toBe(true);
    // In the store: exactly the writes after the last swap (a suffix), the older ones emptied by a replace.
    const present = (await store.kv('w').list()).filter((k) => k !== 'before');
    const first = acked - present.length;
    expect(present.sort()).toEqual(Array.from({ length: present.length }, (_, i) => `n${first + i}`).sort());
    expect(present.length).toBeGreaterThanOrEqual(20);
    expect(await store.kv('w').get('before')).toBeNull();
    expect(await store.kv('bulk').get('b19999')).toEqual({ i: 19_999, pad: 'x'.repeat(40) });
    const report = await store.verify();
    expect(report.issues).toEqual([]);
    expect(report.ok).toBe(true);
    await store.close();
  }, 120_000);
});
