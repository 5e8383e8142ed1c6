import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../errors.js';
import type { VerifyIssue, VerifyReport } from '../driver.js';
import type { MemoryState } from '../memory-state.js';
import { TEMP_PREFIX } from './atomic-write.js';
import { CLAIM_FILE } from './compaction.js';
import { DamageError } from './errors.js';
import { closeQuietly, loadImage, openJournal } from './image.js';
import { JOURNAL_FILE, readRange, scanEntries } from './journal.js';
import { LOCK_FILE, OWNER_SUFFIX, ownerRecordValid } from './lock.js';
import { openSmallRecord } from './small-record.js';
import { decodeSnapshot, snapshotFileName } from './snapshot.js';

const MAX_DIFFS = 20;
/**
 * Owner records and the claim are renamed or linked into place whole, except where there are
 * no hard links: there the claim is created, then written, so younger and empty is in progress.
 */
const WRITING_GRACE_MS = 5_000;

/**
 * Re-reads every file of the directory that could be Strata's (call with the lock held): the
 * journal's checksums, JSON and sequence; every `*.json`, listed in the journal header or not
 * (a snapshot left by a crashed compaction, or a stray file), in full with its checksums; the
 * owner records and the compaction claim. Temp files (`.tmp-*`) hold nothing the store reads:
 * another process's work in progress, or a crashed writer's debris that the next open deletes.
 * Then, when all of that is sound and an in-memory image is given, checks that the image
 * rebuilt from disk equals it.
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
    journal = null;
  }
  let lastSeq = Infinity;
  if (journal) {
    lastSeq = journal.header.base;
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
  }
  const listed = new Map((journal?.header.spaces ?? []).map((space) => [snapshotFileName(space), space]));
  const names = (await readdir(dir)).sort();
  for (const [name, space] of listed)
    if (!names.includes(name))
      issues.push({ code: 'CORRUPT', space, message: `${join(dir, name)}: the snapshot of space "${space}" is missing` });
  for (const name of names) {
    const file = join(dir, name);
    if (name === JOURNAL_FILE || name.startsWith(TEMP_PREFIX)) continue;
    if (name.endsWith('.json')) checked += await checkSnapshot(file, name, listed.get(name), lastSeq, issues);
    else if ((name.startsWith(`${LOCK_FILE}.`) && name.endsWith(OWNER_SUFFIX)) || name === CLAIM_FILE)
      await checkSmallRecord(file, name === CLAIM_FILE, issues);
  }
  if (issues.length === 0 && state !== null) compareImage(await rebuild(dir, driver, issues), state, issues);
  return { ok: issues.length === 0, checked, issues };
}

/** Checks one `*.json` file in full; returns how many records it holds when it is a listed snapshot. */
async function checkSnapshot(
  file: string,
  name: string,
  listedSpace: string | undefined,
  lastSeq: number,
  issues: VerifyIssue[],
): Promise<number> {
  let space = listedSpace;
  try {
    const text = await readFile(file, 'utf8');
    if (space === undefined) {
      // Unlisted: a crashed compaction's snapshot (ignored, rebuilt from the journal) or a stray file.
      let claimed: unknown;
      try {
        claimed = (JSON.parse(text) as { space?: unknown } | null)?.space;
      } catch {
        claimed = undefined;
      }
      if (typeof claimed !== 'string' || snapshotFileName(claimed) !== name)
        throw new DamageError('it is not the snapshot of a space (move stray files out of the store directory)');
      space = claimed;
    }
    const snapshot = await decodeSnapshot(text, space);
    if (snapshot.kind === 'newer') throw new DamageError(`its format "${snapshot.format}" is newer than this version of Strata`);
    if (listedSpace === undefined) return 0;
    if (snapshot.seq > lastSeq) throw new DamageError(`it is at batch ${snapshot.seq} but the journal ends at batch ${lastSeq}`);
    return snapshot.records.length;
  } catch (error) {
    const key = error instanceof DamageError ? error.key : undefined;
    issues.push({
      code: 'CORRUPT',
      message: `${file}: ${(error as Error).message}`,
      ...(space === undefined ? {} : { space }),
      ...(key === undefined ? {} : { key }),
    });
    return 0;
  }
}

/** An owner record or the compaction claim: small JSON naming a process. */
async function checkSmallRecord(file: string, claim: boolean, issues: VerifyIssue[]): Promise<void> {
  const [raw, info] = await Promise.all([readFile(file, 'utf8').catch(() => null), stat(file).catch(() => null)]);
  if (raw === null || info === null) return; // removed meanwhile
  if (raw === '' && Date.now() - info.mtimeMs < WRITING_GRACE_MS) return;
  let ok: boolean;
  if (claim) {
    const c = openSmallRecord(raw);
    ok = c !== null && Number.isSafeInteger(c.pid) && typeof c.host === 'string';
  } else ok = ownerRecordValid(raw);
  if (!ok)
    issues.push({
      code: 'CORRUPT',
      message: `${file}: the ${claim ? 'compaction claim' : 'owner record'} is damaged; it holds no data, so it can be deleted once no process has the store open`,
    });
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
