import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, ftruncateSync, openSync, statSync } from 'node:fs';
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MemoryState } from '../memory-state.js';
import { syncDir, TEMP_PREFIX, tempOwner, writeFileAtomic } from './atomic-write.js';
import { pidAlive } from './lock.js';
import { corruptError, DamageError, ioError, unsupportedFormat } from './errors.js';
import type { JournalEntry, JournalHeader, ScannedEntry } from './journal.js';
import { encodeHeader, FORMAT, JOURNAL_FILE, parseHeaderLine, readRange, readRangeSync, scanEntries } from './journal.js';
import { decodeSnapshot, snapshotFileName } from './snapshot.js';

/** The store as read from disk: the in-RAM image plus where the journal stands. */
export interface Image extends OpenedJournal {
  state: MemoryState;
  /** Offset just past the last good line: where the next batch is appended. */
  end: number;
  /** Seq of the last batch applied. */
  seq: number;
  /** Spaces changed since their snapshot, with the seq of their last change: what the next compaction rewrites. */
  dirty: Map<string, number>;
  /** Bytes of torn tail dropped. */
  dropped: number;
  /** The journal's entries, as replayed. */
  entries: ScannedEntry[];
  /** The seq each listed space's snapshot stands at. */
  snapshotSeq: Map<string, number>;
  /** Spaces whose snapshot is in the old format without checksums: rewritten by the next compaction. */
  legacy: string[];
}

export const newGeneration = (): string => randomBytes(8).toString('hex');

/** Applies one journal entry; `snapshotSeq` skips changes a snapshot already holds. */
export function applyEntry(
  state: MemoryState,
  entry: JournalEntry,
  dirty: Map<string, number>,
  snapshotSeq?: ReadonlyMap<string, number>,
): void {
  for (const space of entry.declare) {
    if (state.spaces.has(space)) continue;
    state.space(space);
    dirty.set(space, entry.seq);
  }
  for (const m of entry.changes) {
    if (snapshotSeq !== undefined && entry.seq <= (snapshotSeq.get(m.space) ?? -1)) continue;
    state.apply([m]);
    dirty.set(m.space, entry.seq);
  }
}

export interface OpenedJournal {
  fd: number;
  header: JournalHeader;
  /** Length of the header line. */
  bytes: number;
  size: number;
  ino: number;
  dev: number;
}

/**
 * The journal's first line and what follows it in the bytes read: 64 KiB first, more until
 * the newline shows. The header lists every space, so a store of thousands of long names
 * has a header of megabytes; it is read whole, however long.
 */
function headerBytes(fd: number, size: number): Buffer {
  for (let length = Math.min(size, 1 << 16); ; length = Math.min(size, length * 4)) {
    const bytes = readRangeSync(fd, 0, length);
    if (length >= size || bytes.indexOf(0x0a) >= 0) return bytes;
  }
}

/** Opens the journal and reads its header (synchronously: it is read once per open or compaction). */
export function openJournal(dir: string, driver: string, flags: 'r' | 'r+'): OpenedJournal {
  const path = join(dir, JOURNAL_FILE);
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw corruptError(driver, path, 'the journal is missing');
    throw ioError(driver, error, 'opening', path);
  }
  try {
    const info = fstatSync(fd);
    let parsed;
    try {
      parsed = parseHeaderLine(headerBytes(fd, info.size));
    } catch (error) {
      throw corruptError(driver, path, (error as Error).message, error);
    }
    // decodeHeader refused damaged format strings: anything else is a newer format.
    if (parsed.header.format !== FORMAT) throw unsupportedFormat(driver, path, parsed.header.format);
    return { fd, header: parsed.header, bytes: parsed.bytes, size: info.size, ino: info.ino, dev: info.dev };
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/**
 * Reads the header, every listed snapshot and the journal, and replays it. Call with the
 * lock held: a torn tail is then certainly a crash, and unless `readOnly` it is truncated.
 */
export async function loadImage(dir: string, driver: string, readOnly = false): Promise<Image> {
  const path = join(dir, JOURNAL_FILE);
  const journal = openJournal(dir, driver, readOnly ? 'r' : 'r+');
  const { fd, header, bytes } = journal;
  try {
    const state = new MemoryState();
    const snapshotSeq = new Map<string, number>();
    const legacy: string[] = [];
    for (const space of header.spaces) {
      const file = join(dir, snapshotFileName(space));
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT')
          throw corruptError(driver, file, `the snapshot of space "${space}" is missing`, undefined, { space });
        throw ioError(driver, error, 'reading', file);
      }
      let snapshot;
      try {
        snapshot = await decodeSnapshot(text, space);
      } catch (error) {
        const key = error instanceof DamageError ? error.key : undefined;
        throw corruptError(driver, file, `the snapshot of space "${space}" is damaged: ${(error as Error).message}`, error, {
          space,
          ...(key === undefined ? {} : { key }),
        });
      }
      if (snapshot.kind === 'newer') throw unsupportedFormat(driver, file, snapshot.format);
      if (snapshot.kind === 'legacy') legacy.push(space);
      const records = state.space(space);
      for (const record of snapshot.records) records.set(record.key, record);
      snapshotSeq.set(space, snapshot.seq);
    }
    const scan = scanEntries(await readRange(fd, bytes, journal.size), bytes, header.base + 1);
    if (scan.corrupt) {
      throw corruptError(driver, path, `${scan.corrupt.problem} at byte ${scan.corrupt.offset}`);
    }
    const dirty = new Map<string, number>();
    // An old-format snapshot is rewritten (with checksums) by the next compaction.
    for (const space of legacy) dirty.set(space, snapshotSeq.get(space)!);
    for (const { entry } of scan.entries) applyEntry(state, entry, dirty, snapshotSeq);
    const seq = header.base + scan.entries.length;
    for (const [space, at] of snapshotSeq) {
      if (at > seq) {
        throw corruptError(
          driver,
          join(dir, snapshotFileName(space)),
          `the snapshot is at batch ${at} but the journal ends at batch ${seq}`,
        );
      }
    }
    if (scan.tail > 0 && !readOnly) {
      try {
        ftruncateSync(fd, scan.end);
      } catch (error) {
        throw ioError(driver, error, 'truncating the torn tail of', path);
      }
    }
    return { ...journal, state, end: scan.end, seq, dirty, dropped: scan.tail, entries: scan.entries, snapshotSeq, legacy };
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
}

/** Creates the journal of a new store. Refuses when snapshots show the journal was lost. */
export async function createIfMissing(dir: string, driver: string): Promise<void> {
  const path = join(dir, JOURNAL_FILE);
  const names = await readdir(dir);
  if (names.includes(JOURNAL_FILE)) return;
  for (const name of names) {
    if (!name.endsWith('.json') || name.startsWith(TEMP_PREFIX)) continue;
    const head = readHead(join(dir, name));
    if (head.includes('"strata-file/'))
      throw corruptError(driver, path, `the journal is missing but snapshot files such as ${name} exist`);
  }
  try {
    await writeFileAtomic(
      path,
      encodeHeader({ format: FORMAT, generation: newGeneration(), base: 0, spaces: [], createdAt: Date.now() }),
    );
    await syncDir(dir);
  } catch (error) {
    throw ioError(driver, error, 'creating', path);
  }
}

function readHead(file: string): string {
  const fd = openSync(file, 'r');
  try {
    return readRangeSync(fd, 0, 256).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Deletes temp files left by crashed writers (call with the lock held). A live process may be
 * writing snapshots for a compaction without the lock, so its temps are left alone.
 */
export async function removeTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const pid = tempOwner(name);
    if (pid === null || (pid !== process.pid && !pidAlive(pid))) await unlink(join(dir, name)).catch(() => {});
  }
}

/** The total size of these files of `dir` (missing ones count 0). */
export async function filesSize(dir: string, files: readonly string[]): Promise<number> {
  let bytes = 0;
  for (const file of files) bytes += (await stat(join(dir, file)).catch(() => null))?.size ?? 0;
  return bytes;
}

/** Where the journal stood at some moment: `null` when there was none yet. */
export type JournalMark = { ino: number; dev: number; size: number } | null;

export function journalMark(dir: string): JournalMark {
  try {
    const { ino, dev, size } = statSync(join(dir, JOURNAL_FILE));
    return { ino, dev, size };
  } catch {
    return null;
  }
}

/**
 * What a listener that subscribed at `mark`, before the store was open, must hear of a
 * freshly loaded image: the entries written after the mark when the journal is the same
 * file, else (a compaction replaced it meanwhile, folding what was written after the mark
 * into snapshots) a reset for every space, since which of them changed cannot be told.
 */
export function eventsSince(image: Image, mark: JournalMark): { entries: ScannedEntry[]; reset: string[] } {
  // No journal yet when watched: what snapshots hold now was folded from batches written since.
  if (mark === null) return { entries: image.entries, reset: [...image.header.spaces] };
  if (image.ino === mark.ino && image.dev === mark.dev)
    return { entries: image.entries.filter((e) => e.end > mark.size), reset: [] };
  return { entries: [], reset: [...image.state.spaces.keys()] };
}
