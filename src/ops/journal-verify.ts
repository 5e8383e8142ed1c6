import type { Driver, VerifyIssue } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { JOURNAL_SPACE, parseEntry, seqKey } from './journal-entry.js';
import { loadMarks } from './journal-loads.js';
import { readJournalState } from './journal-state.js';

const PAGE = 1_000;

/**
 * What `store.verify()` finds wrong with the change journal: a damaged entry or state, a
 * missing seq from the recorded start on, a broken hash chain, a damaged load mark. Empty
 * without a journal.
 * `driver` is the store's driver below encryption.
 */
export async function journalIssues(driver: Driver, now: number): Promise<VerifyIssue[]> {
  try {
    return await findIssues(driver, now);
  } catch (error) {
    // A record the driver itself finds damaged (its checksum) while the journal is read.
    if (!StrataError.is(error, 'CORRUPT')) throw error;
    const { space, key } = (error.details ?? {}) as { space?: unknown; key?: unknown };
    return [
      {
        code: 'CORRUPT',
        message: error.message,
        space: typeof space === 'string' ? space : JOURNAL_SPACE,
        ...(typeof key === 'string' ? { key } : {}),
      },
    ];
  }
}

async function findIssues(driver: Driver, now: number): Promise<VerifyIssue[]> {
  const issue = (message: string, key?: string): VerifyIssue => ({
    code: 'CORRUPT',
    message,
    space: JOURNAL_SPACE,
    ...(key === undefined ? {} : { key }),
  });
  const loaded = await readJournalState(driver, now);
  if (loaded === null) return [];
  const start = loaded.state.start;
  await loadMarks(driver, now);
  let expected = start;
  let prev: string | null = null;
  for (;;) {
    const page = await driver.scan(JOURNAL_SPACE, { after: { key: seqKey(expected - 1) }, limit: PAGE }, now);
    for (const record of page) {
      const entry = parseEntry(record.key, record.value);
      if (entry.seq !== expected) return [issue(`journal entry ${expected} is missing`, seqKey(expected))];
      if (prev !== null && entry.prev !== prev)
        return [issue(`journal entry ${entry.seq} does not follow entry ${entry.seq - 1}`, record.key)];
      prev = entry.hash;
      expected++;
    }
    if (page.length < PAGE) return [];
  }
}
