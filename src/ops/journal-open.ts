import type { Driver, VerifyReport } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { JournalLayer, journalLayerOf } from '../layers/journal.js';
import { readJournalState, settleJournal, writeJournalState, type LoadedJournalState } from './journal-state.js';
import { journalIssues } from './journal-verify.js';
import { restoreMark } from './journal-loads.js';

/**
 * Puts the journal layer right on top of `driver` when the store keeps a journal: asked for
 * by `wanted` (parsed by `parseJournalOptions`; turned on, or its retention changed, in the store), or remembered in the
 * store by an earlier open (then the remembered retention applies): once a store has a
 * journal, every process writing to it journals.
 */
export async function withJournal(driver: Driver, wanted: { retentionMs: number } | undefined, now: number): Promise<Driver> {
  const existing = journalLayerOf(driver);
  if (existing !== undefined) {
    // A store's own stack handed to openStore({ driver }): it already journals.
    const state = await settleJournal(existing.inner, wanted, now);
    if (state !== null) existing.retentionMs = state.retentionMs;
    return driver;
  }
  if (driver.capabilities.encryption === true) {
    // The journal must sit below encryption; this stack gives no way under it.
    const state = await settleJournal(driver, undefined, now);
    if (state === null && wanted === undefined) return driver;
    throw new StrataError('UNSUPPORTED', 'openStore: a journal cannot be added on top of a stack that already encrypts', {
      op: 'openStore',
      hint: 'open the store by its URL (sqlite:, file:, memory:) with the journal and encryption options',
    });
  }
  const state = await settleJournal(driver, wanted, now);
  return state === null ? driver : new JournalLayer(driver, state.retentionMs);
}

/** `store.verify()`'s journal part: adds what is wrong with the journal (if the stack has one) to `report`. */
export async function verifyJournal(driver: Driver, report: VerifyReport, now: number): Promise<void> {
  const layer = journalLayerOf(driver);
  if (layer === undefined) return;
  const issues = await journalIssues(layer.inner, now);
  if (issues.length === 0) return;
  report.issues.push(...issues);
  report.ok = false;
}

/**
 * What a restore does for the journal, on the backup copy about to replace the store
 * (`scratch`), when the live store (`live`, below encryption) keeps one: the copy keeps the
 * journal on, with the live retention (`keepLiveRetention`), and, for a restore without
 * `toTime` (`from`: the backup's time; `null`: the caller marks it), it gets the mark of this
 * restore (ops/journal-loads.ts).
 */
export async function journalOnRestore(
  live: Driver,
  scratch: Driver,
  restore: { from: number | null; seq: number },
  now: number,
): Promise<void> {
  let loaded: LoadedJournalState | null;
  let damaged = false;
  try {
    loaded = await readJournalState(live, now);
  } catch (error) {
    // Only a damaged record is survivable: it still says the store keeps a journal, which a
    // backup holding its own record restores (the repair the CORRUPT hint names). Without one,
    // its retention is unknown: refused (store unchanged), not a store left without a journal.
    if (!StrataError.is(error, 'CORRUPT')) throw error;
    if ((await readJournalState(scratch, now)) === null) {
      throw new StrataError(
        'CORRUPT',
        "store.restore: this store's journal record (meta.journal-state) is damaged and the backup holds none to replace it",
        {
          op: 'store.restore',
          hint: 'restore a backup taken since the journal was turned on: it holds the journal record',
          details: error.details,
          cause: error,
        },
      );
    }
    loaded = null;
    damaged = true;
  }
  if (loaded === null && !damaged) return; // no journal to keep on
  if (loaded !== null) await keepLiveRetention(scratch, loaded.state.retentionMs, now);
  if (restore.from === null) return;
  const { space, key, value } = restoreMark(restore.seq, now, restore.from);
  await scratch.batch([{ type: 'put', space, key, value, expiresAt: null }], now, { results: false });
}

/**
 * The retention is a setting of the store, last set by opening it with the option, not data
 * of the backup: a backup taken under a shorter one would otherwise have the journal pruned
 * sooner than configured, silently losing the history a later point-in-time restore needs
 * (and this process's journal layer would go on with the other value). A point-in-time
 * restore keeps it the same way (its state is the live one, `planReplay`). A backup taken
 * before the journal was turned on gets a journal from seq 1, from `now`.
 */
async function keepLiveRetention(scratch: Driver, retentionMs: number, now: number): Promise<void> {
  const held = await readJournalState(scratch, now);
  if (held === null) {
    await writeJournalState(scratch, { format: 1, retentionMs, start: 1, since: now }, 0, now);
  } else if (held.state.retentionMs !== retentionMs) {
    await writeJournalState(scratch, { ...held.state, retentionMs }, held.version, now);
  }
}
