import { checkOptions } from '../codec/options.js';
import { parseDuration, type Duration } from '../codec/duration.js';
import { parseJson } from '../codec/json.js';
import type { Driver } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { JOURNAL_STATE_KEY, JOURNAL_STATE_SPACE } from './journal-entry.js';

/** `openStore({ journal })`. */
export interface JournalOptions {
  /** How long entries are kept (then pruned, oldest first), e.g. `'7d'`. Required. */
  retention: Duration;
}

/**
 * What the store remembers about its journal (`meta.journal-state`), read by every process
 * at open: once a store has a journal, every process that writes to it journals too.
 */
export interface JournalState {
  format: 1;
  retentionMs: number;
  /** The first seq still held: entries below it were pruned (a missing entry at or above it is damage). */
  start: number;
  /** When the journal was turned on, epoch ms. */
  since: number;
}

export interface LoadedJournalState {
  state: JournalState;
  version: number;
}

/** Checks `openStore`'s `journal` option: `{ retention }` and nothing else. */
export function parseJournalOptions(value: unknown): { retentionMs: number } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StrataError('BAD_INPUT', "openStore: journal must be an object such as { retention: '7d' }", {
      op: 'openStore',
      hint: "pass journal: { retention: '7d' }",
    });
  }
  checkOptions(value, ['retention'], 'openStore journal');
  const { retention } = value as { retention?: unknown };
  if (retention === undefined) {
    throw new StrataError('BAD_INPUT', 'openStore: journal needs a retention', {
      op: 'openStore',
      hint: "pass journal: { retention: '7d' } (how long entries are kept)",
    });
  }
  return { retentionMs: parseDuration(retention, 'journal retention') };
}

function damaged(): StrataError {
  return new StrataError('CORRUPT', "the store's journal record (meta.journal-state) is damaged", {
    hint: 'restore the store from a backup',
    details: { space: JOURNAL_STATE_SPACE, key: JOURNAL_STATE_KEY },
  });
}

/** Parses a stored journal state (CORRUPT when it is not one). */
export function parseJournalState(text: string): JournalState {
  let raw: Partial<JournalState>;
  try {
    raw = parseJson(text) as Partial<JournalState>;
  } catch {
    throw damaged();
  }
  const ok =
    raw !== null &&
    typeof raw === 'object' &&
    raw.format === 1 &&
    typeof raw.retentionMs === 'number' &&
    raw.retentionMs > 0 &&
    Number.isSafeInteger(raw.start) &&
    raw.start! >= 1 &&
    Number.isSafeInteger(raw.since);
  if (!ok) throw damaged();
  return { format: 1, retentionMs: raw.retentionMs!, start: raw.start!, since: raw.since! };
}

export async function readJournalState(driver: Driver, now: number): Promise<LoadedJournalState | null> {
  const record = await driver.get(JOURNAL_STATE_SPACE, JOURNAL_STATE_KEY, now);
  if (record === null) return null;
  return { state: parseJournalState(record.value), version: record.version };
}

/** Writes the state if the stored one is still at `version` (0: absent); CONFLICT otherwise. */
export async function writeJournalState(driver: Driver, state: JournalState, version: number, now: number): Promise<void> {
  await driver.batch(
    [
      {
        type: 'put',
        space: JOURNAL_STATE_SPACE,
        key: JOURNAL_STATE_KEY,
        value: JSON.stringify(state),
        expiresAt: null,
        expect: version,
      },
    ],
    now,
  );
}

/**
 * Turns the journal on (or changes its retention) when `wanted`, and tells whether the store
 * journals: `null` when it has no journal and none was asked for.
 */
export async function settleJournal(
  driver: Driver,
  wanted: { retentionMs: number } | undefined,
  now: number,
): Promise<JournalState | null> {
  for (let attempt = 0; ; attempt++) {
    const loaded = await readJournalState(driver, now);
    if (wanted === undefined || loaded?.state.retentionMs === wanted.retentionMs) return loaded?.state ?? null;
    const state: JournalState = loaded
      ? { ...loaded.state, retentionMs: wanted.retentionMs }
      : { format: 1, retentionMs: wanted.retentionMs, start: 1, since: now };
    try {
      await writeJournalState(driver, state, loaded?.version ?? 0, now);
      return state;
    } catch (error) {
      // Another process settled it at the same moment: read what it wrote.
      if (!StrataError.is(error, 'CONFLICT') || attempt >= 5) throw error;
    }
  }
}
