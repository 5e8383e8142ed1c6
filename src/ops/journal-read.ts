import type { Driver } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { JOURNAL_SPACE, parseEntry, seqKey, type JournalEntry, type JournalHead } from './journal-entry.js';
import { readJournalState, type JournalState } from './journal-state.js';

const PAGE = 1_000;

/** A point-in-time restore on a store that keeps no journal (`toTime` is no help there). */
export function noJournal(): StrataError {
  return new StrataError('NOT_FOUND', 'this store keeps no change journal: a point-in-time restore cannot be made', {
    hint: "restore without toTime (on the CLI, without --to-time); to keep a journal from now on, open the store with openStore({ journal }) and a retention such as '7d' (an API option only; the CLI has none)",
    details: { reason: 'no-journal' },
  });
}

export interface JournalSlice {
  state: JournalState;
  /** Entries after the anchor, in seq order, up to the last one at or before `toTime`. */
  entries: JournalEntry[];
}

function corrupt(message: string, details: Record<string, unknown>): StrataError {
  return new StrataError('CORRUPT', message, {
    hint: 'the journal cannot bring a backup forward past this point; restore the backup without toTime (CLI: without --to-time)',
    details,
  });
}

/**
 * Reads the entries that follow `anchor` (the newest entry a backup holds; `null`: it holds
 * none, so from seq 1 or from what it was taken at) up to `toTime`, checking everything on
 * the way: no missing seq, every checksum, every link of the hash chain, the anchor itself.
 * Stops at the first entry after `toTime` (entries are in commit order; the state replayed
 * to is one that existed). A gap is refused, never papered over: CORRUPT for damage,
 * NOT_FOUND when the journal was pruned past the anchor or never covered it, BAD_INPUT when
 * the backup belongs to another history of the store (taken before a restore undid it).
 */
export async function readJournalAfter(
  driver: Driver,
  anchor: JournalHead | null,
  toTime: number,
  now: number,
): Promise<JournalSlice> {
  const loaded = await readJournalState(driver, now);
  if (loaded === null) throw noJournal();
  const { state } = loaded;
  const after = anchor?.seq ?? 0;
  if (after + 1 < state.start) {
    throw new StrataError(
      'NOT_FOUND',
      `the journal was pruned past the backup: it starts at seq ${state.start}, the backup ends at seq ${after}`,
      {
        hint: "use a newer backup; to keep entries longer from now on, open the store with openStore({ journal }) and a longer retention such as '30d' (an API option only; the CLI has none)",
        details: { start: state.start, backupSeq: after },
      },
    );
  }
  let prev = anchor?.hash ?? null;
  if (anchor !== null && anchor.seq >= state.start) {
    const own = await driver.get(JOURNAL_SPACE, seqKey(anchor.seq), now);
    if (own === null) {
      const later = await driver.scan(JOURNAL_SPACE, { after: { key: seqKey(anchor.seq) }, limit: 1, keysOnly: true }, now);
      if (later.length > 0) throw corrupt(`journal entry ${anchor.seq} is missing`, { seq: anchor.seq });
      throw new StrataError(
        'BAD_INPUT',
        `the backup does not belong to this store's history: it holds journal entry ${anchor.seq}, the store's journal ends before it`,
        {
          hint: 'it was taken before a restore went back past it; use a backup taken since, or restore it without toTime (CLI: without --to-time)',
          details: { seq: anchor.seq },
        },
      );
    }
    if (parseEntry(own.key, own.value).hash !== anchor.hash) {
      throw new StrataError(
        'BAD_INPUT',
        `the backup does not belong to this store's history: its journal entry ${anchor.seq} differs`,
        {
          hint: 'it was taken before a restore went back past it; use a backup taken since, or restore it without toTime (CLI: without --to-time)',
          details: { seq: anchor.seq },
        },
      );
    }
  }
  const entries: JournalEntry[] = [];
  let expected = after + 1;
  for (;;) {
    const page = await driver.scan(JOURNAL_SPACE, { after: { key: seqKey(expected - 1) }, limit: PAGE }, now);
    for (const record of page) {
      const entry = parseEntry(record.key, record.value);
      if (entry.seq !== expected) throw corrupt(`journal entry ${expected} is missing`, { seq: expected });
      if (prev !== null && entry.prev !== prev) {
        throw corrupt(`journal entry ${entry.seq} does not follow entry ${entry.seq - 1} (broken hash chain)`, {
          seq: entry.seq,
        });
      }
      if (entry.at > toTime) return { state, entries };
      entries.push(entry);
      prev = entry.hash;
      expected++;
    }
    if (page.length < PAGE) return { state, entries };
  }
}
