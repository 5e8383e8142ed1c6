import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { MemoryState } from '../memory-state.js';
import { compareStrings } from '../../query/match.js';
import { renameWithRetry, syncDir, writeFileAtomic, writeSmallFileAtomic, writeTemp } from './atomic-write.js';
import type { JournalHeader } from './journal.js';
import { encodeHeader, JOURNAL_FILE } from './journal.js';
import { NO_LINKS, pidAlive } from './lock.js';
import { snapshotFileName, snapshotText } from './snapshot.js';
import { openSmallRecord, sealSmallRecord } from './small-record.js';

/**
 * Compaction folds the journal into the snapshots, in two phases so that other processes
 * are not locked out while big snapshots are serialized and written:
 *
 * 1. without the lock (`prepareSnapshots`), each space changed since its snapshot is
 *    written, stamped with the seq S the image stands at, to an fsynced temp file;
 * 2. with the lock (`commitCompaction`), if no other process compacted meanwhile, the temps
 *    are renamed over the snapshots, the directory is fsynced (the snapshots must be on disk
 *    before a journal that depends on them), and a new journal replaces the old one
 *    atomically: new generation, base S, the spaces that now have snapshots, then the
 *    lines other writers appended after S, copied as they are.
 *
 * A crash at any point loses nothing. Until the new journal is in place the old one stays in
 * force, and replaying it skips the entries a snapshot already holds (entry seq <= snapshot
 * seq), so new and old snapshots mix safely; a snapshot of a space the old header does not
 * list is ignored and rebuilt from the journal; stray temps are deleted on the next open.
 * Other processes notice the generation change and, since the old journal they hold open
 * is final, read its last lines and go on in the new one.
 */
export type CompactionMode = 'auto' | 'close' | 'force';

/**
 * Whether the journal (`body` bytes past its header) is worth folding, and the threshold
 * for next time. Rewriting a space costs its whole size, so besides `compactBytes` the
 * journal must have reached half the size of the spaces it touches: rewrites stay
 * proportional to what was written (as Redis does for its AOF). On close a smaller journal
 * is folded when the rewrite is cheap, so a cleanly closed store can be read from its
 * snapshot files alone.
 */
export function compactionDue(
  mode: CompactionMode,
  body: number,
  compactAt: number,
  compactBytes: number,
  rewrite: () => number,
): { due: boolean; compactAt: number } {
  if (body === 0 || mode === 'force') return { due: body > 0, compactAt };
  if (mode === 'close') return { due: body >= compactBytes || body * 8 >= rewrite(), compactAt };
  if (body < compactAt) return { due: false, compactAt };
  const bytes = rewrite();
  return body * 2 >= bytes ? { due: true, compactAt } : { due: false, compactAt: Math.ceil(bytes / 2) };
}

/** Roughly what rewriting these spaces' snapshots writes. */
export function rewriteBytes(state: MemoryState, spaces: Iterable<string>): number {
  let bytes = 0;
  for (const space of spaces)
    for (const r of state.spaces.get(space)?.values() ?? []) bytes += r.key.length + r.value.length + 100;
  return bytes;
}

export interface PreparedSnapshot {
  space: string;
  path: string;
  temp: string;
}

export async function prepareSnapshots(
  dir: string,
  state: MemoryState,
  spaces: readonly string[],
  seq: number,
): Promise<PreparedSnapshot[]> {
  const prepared: PreparedSnapshot[] = [];
  try {
    for (const space of [...spaces].sort(compareStrings)) {
      const path = join(dir, snapshotFileName(space));
      const records = state.spaces.get(space) ?? new Map<string, never>();
      prepared.push({ space, path, temp: await writeTemp(path, snapshotText(space, seq, records)) });
    }
    return prepared;
  } catch (error) {
    await discardSnapshots(prepared);
    throw error;
  }
}

export async function discardSnapshots(prepared: readonly PreparedSnapshot[]): Promise<void> {
  for (const p of prepared) await unlink(p.temp).catch(() => {});
}

/** Phase 2, with the lock held: puts the snapshots and the new journal in place. */
export async function commitCompaction(
  dir: string,
  prepared: readonly PreparedSnapshot[],
  header: JournalHeader,
  tail: Buffer,
): Promise<void> {
  for (const p of prepared) await renameWithRetry(p.temp, p.path);
  await syncDir(dir);
  await writeFileAtomic(join(dir, JOURNAL_FILE), Buffer.concat([encodeHeader(header), tail]));
  await syncDir(dir);
}

export const CLAIM_FILE = 'strata.compacting';
const CLAIM_STALE_MS = 10 * 60_000;

/**
 * An advisory claim so that processes crossing the threshold together do not all serialize
 * the same snapshots: only phase 2 needs to be exclusive, and it checks for itself, so a
 * lost race here costs work, never data. A claim whose process died is taken over.
 */
export function claimCompaction(dir: string): boolean {
  const path = join(dir, CLAIM_FILE);
  const claim = sealSmallRecord({ pid: process.pid, host: hostname(), at: Date.now() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeClaim(path, claim);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    }
    try {
      const owner = openSmallRecord(readFileSync(path, 'utf8'));
      // A damaged claim is taken over: a lost race here costs work, never data.
      if (owner === null) throw new Error('damaged claim');
      const dead =
        owner.host === hostname() && typeof owner.pid === 'number' && owner.pid !== process.pid && !pidAlive(owner.pid);
      if (!dead && Date.now() - statSync(path).mtimeMs < CLAIM_STALE_MS) return false;
    } catch {
      // unreadable or just removed: try again
    }
    rmSync(path, { force: true });
  }
  return false;
}

/** Creates the claim whole or not at all (EEXIST when there is one); where there are no hard links, created then written. */
function writeClaim(path: string, claim: string): void {
  try {
    writeSmallFileAtomic(path, claim, true);
  } catch (error) {
    if (!NO_LINKS.includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    writeFileSync(path, claim, { flag: 'wx', mode: 0o600 });
  }
}

export function releaseCompaction(dir: string): void {
  rmSync(join(dir, CLAIM_FILE), { force: true });
}
