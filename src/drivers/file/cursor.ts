import { fdatasync, fstatSync, ftruncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StrataError } from '../../errors.js';
import { corruptError, ioError } from './errors.js';
import type { OpenedJournal } from './image.js';
import { closeQuietly, openJournal } from './image.js';
import type { JournalHeader, ScannedEntry } from './journal.js';
import { JOURNAL_FILE, readRangeSync, scanEntries, writeAllSync } from './journal.js';

const datasync = promisify(fdatasync);

/** What the cursor did, shared with the engine's counters. */
export interface CursorCounters {
  appends: number;
  fsyncs: number;
  catchUps: number;
  truncations: number;
}

export interface CatchUp {
  /** Batches other writers appended, to apply in order (always, whatever the outcome). */
  entries: ScannedEntry[];
  /** `unsure`: only a pass under the lock can settle what was found. `reload`: start over from the snapshots. */
  outcome: 'ok' | 'unsure' | 'reload';
  /** Set when the cursor moved to a journal another process's compaction put in place. */
  replaced: boolean;
}

/**
 * Where this process stands in the journal: the open file, the offset and seq up to which
 * it has applied batches, and how to read what others appended or append its own.
 *
 * The small operations (stat, reading a tail, appending a line, truncating) are synchronous,
 * as better-sqlite3 is: they take microseconds on a local disk, far less than a round trip
 * through libuv's thread pool, and it keeps the cursor and the image in step (the engine
 * applies what a catch-up returns before anything else runs). fsync stays asynchronous, so
 * writes issued meanwhile can join the next group commit.
 */
export class JournalCursor {
  readonly #dir: string;
  readonly #driver: string;
  readonly #path: string;
  readonly #counters: CursorCounters;
  #fd = -1;
  #ino = 0;
  #dev = 0;
  header!: JournalHeader;
  headerBytes = 0;
  /** Just past the last applied line: where the next append goes. */
  offset = 0;
  /** Seq of the last applied batch. */
  seq = 0;
  /** Journal size when last looked at; differs from `offset` while a tail is unread. */
  #seenSize = 0;

  constructor(dir: string, driver: string, counters: CursorCounters, journal: OpenedJournal, end: number, seq: number) {
    this.#dir = dir;
    this.#driver = driver;
    this.#path = join(dir, JOURNAL_FILE);
    this.#counters = counters;
    this.switchTo(journal, end, seq);
  }

  /** Moves to a journal (after opening, a compaction or a reload), closing the one it leaves. */
  switchTo(journal: OpenedJournal, end = journal.bytes, seq = journal.header.base): void {
    if (this.#fd >= 0) closeQuietly(this.#fd);
    this.#fd = journal.fd;
    this.#ino = journal.ino;
    this.#dev = journal.dev;
    this.header = journal.header;
    this.headerBytes = journal.bytes;
    this.offset = this.#seenSize = end;
    this.seq = seq;
  }

  #statPath(): { ino: number; dev: number; size: number } {
    try {
      return statSync(this.#path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw corruptError(this.#driver, this.#path, 'the journal is missing');
      throw ioError(this.#driver, error, 'reading', this.#path);
    }
  }

  /** The cheap test: one stat() of the path says whether anyone else wrote since we looked. */
  changed(): boolean {
    const info = this.#statPath();
    return !(info.ino === this.#ino && info.dev === this.#dev && info.size === this.#seenSize && this.offset === this.#seenSize);
  }

  /**
   * Reads what other writers appended. Without the lock an unclear tail (maybe still being
   * written) is left for later, and anything only the lock can settle is `unsure`; with the
   * lock a torn tail is truncated and damage throws CORRUPT.
   */
  catchUp(locked: boolean): CatchUp {
    const entries: ScannedEntry[] = [];
    let replaced = false;
    let info = this.#statPath();
    if (info.ino !== this.#ino || info.dev !== this.#dev) {
      const outcome = this.#followCompaction(locked, entries);
      if (outcome !== 'ok') return { entries, outcome, replaced };
      replaced = true;
      info = fstatSync(this.#fd);
    }
    if (info.size === this.offset) {
      this.#seenSize = info.size;
      return { entries, outcome: 'ok', replaced };
    }
    if (info.size < this.offset) {
      if (!locked) return { entries, outcome: 'unsure', replaced };
      throw corruptError(
        this.#driver,
        this.#path,
        `the journal shrank to ${info.size} bytes, below the ${this.offset} already read`,
      );
    }
    this.#counters.catchUps++;
    const tail = this.#read(info.size, locked, entries, '');
    if (tail === null) return { entries, outcome: 'unsure', replaced };
    this.#seenSize = info.size;
    if (tail > 0 && locked) {
      // Behind the lock, only a writer that died mid-append leaves a tail: drop it.
      ftruncateSync(this.#fd, this.offset);
      this.#seenSize = this.offset;
      this.#counters.truncations++;
    }
    return { entries, outcome: 'ok', replaced };
  }

  /** Reads good lines up to `size` into `entries`; returns the unread tail, or null when unsure. */
  #read(size: number, locked: boolean, entries: ScannedEntry[], which: string): number | null {
    const scan = scanEntries(readRangeSync(this.#fd, this.offset, size), this.offset, this.seq + 1);
    if (scan.corrupt) {
      if (!locked) return null;
      throw corruptError(this.#driver, this.#path, `${scan.corrupt.problem} at byte ${scan.corrupt.offset}${which}`);
    }
    for (const scanned of scan.entries) entries.push(scanned);
    if (scan.entries.length > 0) {
      this.offset = scan.end;
      this.seq = scan.entries[scan.entries.length - 1]!.entry.seq;
    }
    return scan.tail;
  }

  /**
   * Another process compacted: the journal we hold open was replaced, and is final. Read its
   * last lines, then go on in the new journal, which starts at the compaction's seq and
   * repeats the lines appended after it: skip those already applied. After compactions we
   * missed (the new journal starts past us), the image must be rebuilt from the snapshots.
   */
  #followCompaction(locked: boolean, entries: ScannedEntry[]): CatchUp['outcome'] {
    const oldSize = fstatSync(this.#fd).size;
    if (oldSize > this.offset && this.#read(oldSize, locked, entries, ' of a replaced journal') === null) return 'unsure';
    const next = openJournal(this.#dir, this.#driver, 'r+');
    const { base } = next.header;
    let end = next.bytes;
    if (base < this.seq) {
      const known = scanEntries(readRangeSync(next.fd, next.bytes, next.size), next.bytes, base + 1).entries.filter(
        (scanned) => scanned.entry.seq <= this.seq,
      );
      end = known.length === this.seq - base ? known[known.length - 1]!.end : -1;
    }
    if (base > this.seq || end < 0) {
      closeQuietly(next.fd);
      return locked ? 'reload' : 'unsure';
    }
    this.switchTo(next, end, this.seq);
    return 'ok';
  }

  /**
   * Appends lines at the end (the caller holds the lock and has caught up); `seq` is the
   * seq of the last line. A failed write is cut back off: a line left behind would let
   * readers apply a batch its writer was told failed. A failed fsync is different: the
   * lines may or may not reach the disk and the kernel may already have dropped the dirty
   * pages (the PostgreSQL "fsyncgate" lesson), so nothing can be promised any more: the error
   * carries `details.unrecoverable` and the store refuses further writes until reopened.
   */
  async append(data: Buffer, seq: number, sync: boolean): Promise<void> {
    const at = this.offset;
    try {
      writeAllSync(this.#fd, data, at);
      this.#counters.appends++;
    } catch (cause) {
      const error = ioError(this.#driver, cause, 'appending to', this.#path);
      try {
        ftruncateSync(this.#fd, at);
      } catch {
        throw this.#unrecoverable('a failed write could not be cut back off the journal', error);
      }
      throw error;
    }
    this.offset = this.#seenSize = at + data.length;
    this.seq = seq;
    if (!sync) return;
    try {
      await datasync(this.#fd);
      this.#counters.fsyncs++;
    } catch (cause) {
      throw this.#unrecoverable('the disk failed to make a write durable; whether it was kept is unknown', cause);
    }
  }

  #unrecoverable(message: string, cause: unknown): StrataError {
    return new StrataError('UNAVAILABLE', message, {
      driver: this.#driver,
      cause,
      hint: 'fix the disk problem, then close and reopen the store',
      details: { path: this.#path, unrecoverable: true },
    });
  }

  /** The journal's bytes from `from` (an offset of a line start) to the last applied line. */
  bytesFrom(from: number): Buffer {
    return readRangeSync(this.#fd, from, this.offset);
  }

  /** Makes everything appended so far durable. */
  sync(): Promise<void> {
    return datasync(this.#fd);
  }

  close(): void {
    if (this.#fd >= 0) closeQuietly(this.#fd);
    this.#fd = -1;
  }
}
