import { setImmediate as turn } from 'node:timers/promises';
import type { Driver, WriteOp } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { JOURNAL_SPACE, JOURNAL_STATE_KEY, JOURNAL_STATE_SPACE, parseEntry, seqKey } from './journal-entry.js';
import { readJournalState } from './journal-state.js';

/** Entries removed per atomic step. */
const PRUNE_CHUNK = 1_000;

/**
 * Removes entries older than `retentionMs`, oldest first, in chunks; each chunk and the new
 * journal `start` commit together, so "pruned" and "missing" stay distinguishable. The
 * newest entry always stays: the next write numbers on from it. Stops at a damaged entry
 * or a missing one (left for a restore to report) and when another process prunes at the same time.
 * Resolves with how many entries went.
 */
export async function pruneJournal(driver: Driver, retentionMs: number, now: number): Promise<number> {
  const cut = now - retentionMs;
  let removed = 0;
  for (;;) {
    const loaded = await readJournalState(driver, now);
    if (loaded === null) return removed;
    const after = { key: seqKey(loaded.state.start - 1) };
    // Most sweeps find nothing old: look at the oldest two entries before reading a chunk.
    const probe = await driver.scan(JOURNAL_SPACE, { after, limit: 2 }, now);
    if (probe.length < 2 || !olderThan(probe[0]!.value, cut)) return removed;
    const page = await driver.scan(JOURNAL_SPACE, { after, limit: PRUNE_CHUNK + 1 }, now);
    const candidates = page.length > PRUNE_CHUNK ? page.slice(0, PRUNE_CHUNK) : page.slice(0, -1);
    const old: number[] = [];
    for (const record of candidates) {
      let at: number;
      let seq: number;
      try {
        ({ at, seq } = parseEntry(record.key, record.value));
      } catch {
        break;
      }
      // A missing entry is damage for a restore to report: pruning past it would hide it.
      if (at >= cut || seq !== loaded.state.start + old.length) break;
      old.push(seq);
    }
    if (old.length === 0) return removed;
    const ops: WriteOp[] = old.map((seq) => ({ type: 'delete', space: JOURNAL_SPACE, key: seqKey(seq) }));
    const state = { ...loaded.state, start: old.at(-1)! + 1 };
    ops.push({
      type: 'put',
      space: JOURNAL_STATE_SPACE,
      key: JOURNAL_STATE_KEY,
      value: JSON.stringify(state),
      expiresAt: null,
      expect: loaded.version,
    });
    try {
      await driver.batch(ops, now, { results: false });
    } catch (error) {
      if (StrataError.is(error, 'CONFLICT')) return removed;
      throw error;
    }
    removed += old.length;
    if (old.length < PRUNE_CHUNK) return removed;
    // sqlite and memory settle their calls at once: without a turn, tens of thousands of
    // entries past retention (an app down for a while) held the event loop for seconds.
    await turn();
  }
}

/** Whether an entry's time is before `cut`; a damaged entry is never old (it stays for a restore to report). */
function olderThan(value: string, cut: number): boolean {
  const at = /"at":(\d+)/.exec(value);
  return at !== null && Number(at[1]) < cut;
}
