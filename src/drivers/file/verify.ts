import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../errors.js';
import type { VerifyIssue, VerifyReport } from '../driver.js';
import type { MemoryState } from '../memory-state.js';
import { closeQuietly, loadImage, openJournal } from './image.js';
import { FORMAT, JOURNAL_FILE, readRange, scanEntries } from './journal.js';
import { decodeSnapshot, snapshotFileName } from './snapshot.js';

const MAX_DIFFS = 20;

/**
 * Re-reads every file from disk (call with the lock held): the journal's checksums, JSON and
 * sequence, each listed snapshot's JSON and format; then, when all of that is sound and an
 * in-memory image is given, checks that the image rebuilt from disk equals it.
 */
export async function verifyStore(
  dir: string,
  driver: string,
  state: MemoryState | null,
  issues: VerifyIssue[] = [],
): Promise<VerifyReport> {
  let checked = 0;
  const journalPath = join(dir, JOURNAL_FILE);
  let journal;
  try {
    journal = openJournal(dir, driver, 'r');
  } catch (error) {
    if (!StrataError.is(error)) throw error;
    issues.push({ code: 'CORRUPT', message: error.message });
    return { ok: false, checked, issues };
  }
  let lastSeq = journal.header.base;
  try {
    const scan = scanEntries(await readRange(journal.fd, journal.bytes, journal.size), journal.bytes, journal.header.base + 1);
    checked += scan.entries.length;
    lastSeq += scan.entries.length;
    if (scan.corrupt)
      issues.push({ code: 'CORRUPT', message: `${journalPath}: ${scan.corrupt.problem} at byte ${scan.corrupt.offset}` });
    else if (scan.tail > 0)
      issues.push({ code: 'CORRUPT', message: `${journalPath}: the last ${scan.tail} bytes are an incomplete batch` });
  } finally {
    closeQuietly(journal.fd);
  }
  for (const space of journal.header.spaces) {
    const file = join(dir, snapshotFileName(space));
    try {
      const snapshot = decodeSnapshot(await readFile(file, 'utf8'), space);
      if (snapshot.format !== FORMAT) throw new Error(`its format "${snapshot.format}" is not ${FORMAT}`);
      if (snapshot.seq > lastSeq) throw new Error(`it is at batch ${snapshot.seq} but the journal ends at batch ${lastSeq}`);
      checked += snapshot.records.length;
    } catch (error) {
      const problem = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file is missing' : (error as Error).message;
      issues.push({ code: 'CORRUPT', space, message: `${file}: ${problem}` });
    }
  }
  if (issues.length === 0 && state !== null) compareImage(await rebuild(dir, driver, issues), state, issues);
  return { ok: issues.length === 0, checked, issues };
}

async function rebuild(dir: string, driver: string, issues: VerifyIssue[]): Promise<MemoryState | null> {
  try {
    const image = await loadImage(dir, driver, true);
    closeQuietly(image.fd);
    return image.state;
  } catch (error) {
    if (!StrataError.is(error)) throw error;
    issues.push({ code: 'CORRUPT', message: error.message });
    return null;
  }
}

function compareImage(disk: MemoryState | null, memory: MemoryState, issues: VerifyIssue[]): void {
  if (disk === null) return;
  const differ = (space: string, key: string): void => {
    if (issues.length < MAX_DIFFS)
      issues.push({ code: 'INTEGRITY', space, key, message: `the record in memory differs from the one on disk` });
  };
  for (const [space, records] of disk.spaces) {
    const mine = memory.spaces.get(space);
    for (const r of records.values()) {
      const m = mine?.get(r.key);
      if (!m || m.value !== r.value || m.version !== r.version || m.updatedAt !== r.updatedAt || m.expiresAt !== r.expiresAt)
        differ(space, r.key);
    }
  }
  for (const [space, records] of memory.spaces) {
    const theirs = disk.spaces.get(space);
    for (const key of records.keys()) if (!theirs?.has(key)) differ(space, key);
  }
}
