import { StrataError } from '../../errors.js';
import type { ChangeHub } from '../base.js';
import { closedError } from '../base.js';
import type { BatchResult, DriverStats, RawRecord, VerifyReport, WriteOp } from '../driver.js';
import { spaceStats, type MemoryState } from '../memory-state.js';
import type { Work } from './commit.js';
import { planGroup, resolveWork } from './commit.js';
import type { CompactionMode } from './compaction.js';
import {
  claimCompaction,
  commitCompaction,
  compactionDue,
  discardSnapshots,
  prepareSnapshots,
  releaseCompaction,
  rewriteBytes,
} from './compaction.js';
import { compareStrings } from '../../query/match.js';
import type { CursorCounters } from './cursor.js';
import { JournalCursor } from './cursor.js';
import { changeEvent, resetEvent } from './events.js';
import type { Image } from './image.js';
import type { JournalMark } from './image.js';
import { applyEntry, eventsSince, filesSize, loadImage, newGeneration, openJournal } from './image.js';
import type { ScannedEntry } from './journal.js';
import { JOURNAL_FILE } from './journal.js';
import type { FileLock } from './lock.js';
import { snapshotFileName } from './snapshot.js';
import { verifyStore } from './verify.js';

export interface EngineOptions {
  dir: string;
  name: string;
  durability: 'full' | 'normal';
  compactBytes: number;
  lockTimeoutMs: number;
}

/** What the engine did, for tests and diagnostics. */
export interface FileCounters extends CursorCounters {
  /** Journal lines written (one per batch that changed something); `appends` counts write() calls. */
  batches: number;
  compactions: number;
  /** Full reloads from the snapshots, after missing other processes' compactions. */
  reloads: number;
}

export { LOCK_FILE } from './lock.js';
const POLL_MS = 100;
/** A writer keeps the lock for the groups queued behind it for at most this long. */
const HOLD_MS = 20;

/**
 * The file store behind the driver: an in-RAM image (MemoryState) kept in step with the
 * journal on disk. Disk work runs one task at a time (`#serial`); a read waits for it only
 * when the journal changed since it was last looked at.
 */
export class FileEngine {
  readonly counters: FileCounters = {
    appends: 0,
    fsyncs: 0,
    batches: 0,
    catchUps: 0,
    compactions: 0,
    reloads: 0,
    truncations: 0,
  };
  readonly lock: FileLock;
  readonly #o: EngineOptions;
  readonly #hub: ChangeHub;
  #cursor: JournalCursor;
  #state: MemoryState;
  /** Spaces changed since their snapshot: what the next compaction rewrites. */
  #dirty: Map<string, number>;
  /** Spaces whose snapshot is in the old format: the next compaction (or close) rewrites them. */
  #legacy: Set<string>;
  #compactAt: number;
  #compacting = false;
  #chain: Promise<unknown> = Promise.resolve();
  #queue: Work[] = [];
  #flushScheduled = false;
  #poller: NodeJS.Timeout | null = null;
  #closed = false;
  #released = false;
  #closing: Promise<void> | null = null;
  #broken: StrataError | null = null;

  /** Use `openEngine` (open.ts), which creates, locks and recovers the store first. */
  constructor(o: EngineOptions, hub: ChangeHub, lock: FileLock, image: Image, watchedSince: JournalMark | undefined) {
    this.#o = o;
    this.#hub = hub;
    this.lock = lock;
    this.#compactAt = o.compactBytes;
    this.#state = image.state;
    this.#dirty = image.dirty;
    this.#legacy = new Set(image.legacy);
    this.#cursor = new JournalCursor(o.dir, o.name, this.counters, image, image.end, image.seq);
    if (image.dropped > 0) this.counters.truncations++;
    // Listeners that subscribed before the store opened hear of what was committed since.
    if (watchedSince !== undefined) {
      const since = eventsSince(image, watchedSince);
      this.#emitRemote(since.entries, new Set(since.reset));
    }
  }

  get state(): MemoryState {
    return this.#state;
  }

  #usable(): void {
    if (this.#closed) throw closedError(this.#o.name);
    if (this.#broken) throw this.#broken;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(task);
    this.#chain = run.catch(() => {});
    return run;
  }

  // ---- reads and catching up -------------------------------------------------------------

  /** Runs `read` on the image once it holds everything committed before this call. */
  async read<T>(read: (state: MemoryState) => T): Promise<T> {
    this.#usable();
    await this.#refresh();
    return read(this.#state);
  }

  /**
   * Catches up when the journal changed. The test is one stat() made when the read starts,
   * so a write another process finished before this read began is always seen.
   */
  async #refresh(): Promise<void> {
    if (this.#released || !this.#cursor.changed()) return;
    await this.#serial(async () => {
      if (!this.#released && !(await this.#catchUp(false))) await this.lock.hold(() => this.#catchUp(true), this.#keepUp);
    });
  }

  /** Catching up while waiting for the lock (inside the serial task that waits). */
  readonly #keepUp = (): Promise<boolean> => this.#catchUp(false);

  /** Applies what other writers appended; false when only a pass under the lock can tell. */
  async #catchUp(locked: boolean): Promise<boolean> {
    const { entries, outcome, replaced } = this.#cursor.catchUp(locked);
    this.#applyRemote(entries);
    // Another process compacted: changes up to the new journal's base are in snapshots.
    if (replaced) this.#foldedUpTo(this.#cursor.header.base);
    if (outcome === 'reload') await this.#reload();
    return outcome !== 'unsure';
  }

  /** Applies `entries`, then reports them to listeners. */
  #applyRemote(entries: readonly ScannedEntry[]): void {
    for (const { entry } of entries) applyEntry(this.#state, entry, this.#dirty);
    this.#emitRemote(entries);
  }

  /**
   * Reports entries already in the image as remote events: first a reset for each space in
   * `reset` (its changes of the gap cannot be told one by one), then every change of the
   * other spaces, exactly.
   */
  #emitRemote(entries: readonly ScannedEntry[], reset: ReadonlySet<string> = new Set()): void {
    if (this.#hub.size === 0) return;
    for (const space of [...reset].sort(compareStrings)) this.#hub.emit(resetEvent(space));
    for (const { entry } of entries)
      for (const m of entry.changes) if (!reset.has(m.space)) this.#hub.emit(changeEvent(m, 'remote'));
  }

  /**
   * Rebuilds the image from disk (under the lock), after compactions by other processes
   * folded batches this process never read into snapshots. A space whose snapshot was
   * written past the seq this process had reached may have changed in that gap (a key set
   * then deleted leaves no trace): its listeners get a reset. Every space changed in the gap
   * has such a snapshot, since those batches are nowhere else now; the journal's batches
   * after the gap are reported one by one for the other spaces.
   */
  async #reload(): Promise<void> {
    const reached = this.#cursor.seq;
    const image = await loadImage(this.#o.dir, this.#o.name);
    this.#cursor.switchTo(image, image.end, image.seq);
    this.#state = image.state;
    this.#dirty = image.dirty;
    this.#legacy = new Set(image.legacy);
    this.#compactAt = this.#o.compactBytes;
    this.counters.reloads++;
    if (image.dropped > 0) this.counters.truncations++;
    const reset = new Set<string>();
    for (const [space, at] of image.snapshotSeq) if (at > reached) reset.add(space);
    this.#emitRemote(
      image.entries.filter((e) => e.entry.seq > reached),
      reset,
    );
  }

  // ---- writes -------------------------------------------------------------------------

  batch(ops: readonly WriteOp[], now: number): Promise<BatchResult[]> {
    this.#usable();
    return new Promise((resolve, reject) => this.#enqueue({ kind: 'batch', ops, now, resolve, reject }));
  }

  purge(now: number, limit?: number): Promise<number> {
    this.#usable();
    return new Promise((resolve, reject) => this.#enqueue({ kind: 'purge', now, limit, resolve, reject }));
  }

  /** Writes a whole image verbatim as one journal line (a group of its own, like a purge). */
  load(records: readonly RawRecord[], mode: 'replace' | 'merge', mergePrefix?: string): Promise<number> {
    this.#usable();
    return new Promise((resolve, reject) => this.#enqueue({ kind: 'load', records, mode, mergePrefix, resolve, reject }));
  }

  /** Records a declared space in the journal, so every process (and a reopen) knows it. */
  async declare(space: string): Promise<void> {
    this.#usable();
    if (this.#state.spaces.has(space)) return;
    await this.#refresh();
    if (this.#state.spaces.has(space)) return;
    return new Promise((resolve, reject) => this.#enqueue({ kind: 'declare', space, resolve, reject }));
  }

  #enqueue(work: Work): void {
    this.#queue.push(work);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    void this.#serial(() => this.#flush());
  }

  /**
   * Group commit: whatever is queued once the lock is held goes out in one write and one
   * fsync. Writes issued while this one waits for the lock or the disk form the next group,
   * which keeps the lock (for at most HOLD_MS, to be fair to other processes).
   */
  async #flush(): Promise<void> {
    if (this.#queue.length === 0 || this.#released) {
      this.#flushScheduled = false;
      for (const work of this.#queue.splice(0)) work.reject(closedError(this.#o.name));
      return;
    }
    const started = Date.now();
    const done: Array<() => void> = [];
    try {
      await this.lock.hold(async () => {
        await this.#catchUp(true);
        do {
          if (this.#broken) throw this.#broken;
          this.#flushScheduled = false;
          await this.#commit(this.#takeGroup(), done);
        } while (this.#queue.length > 0 && Date.now() - started < HOLD_MS);
      }, this.#keepUp);
    } catch (error) {
      for (const work of this.#queue.splice(0)) work.reject(error);
    }
    // Callers and listeners hear of their writes once the lock is free for the next writer.
    for (const settle of done) settle();
    this.#flushScheduled = false;
    if (this.#queue.length > 0) this.#scheduleFlush();
    this.#maybeCompact();
  }

  /** A purge (or a load) runs as a group of its own; everything else is grouped in arrival order. */
  #takeGroup(): Work[] {
    const alone = (w: Work): boolean => w.kind === 'purge' || w.kind === 'load';
    if (this.#queue[0] !== undefined && alone(this.#queue[0])) return this.#queue.splice(0, 1);
    const purge = this.#queue.findIndex(alone);
    return this.#queue.splice(0, purge < 0 ? this.#queue.length : purge);
  }

  /** Commits one group; what to tell callers and listeners is pushed onto `done`. */
  async #commit(group: Work[], done: Array<() => void>): Promise<void> {
    const plan = planGroup(this.#state, group, this.#cursor.seq, this.#o.name);
    if (plan.lines.length > 0) {
      try {
        await this.#cursor.append(
          plan.lines.length === 1 ? plan.lines[0]! : Buffer.concat(plan.lines),
          plan.seq,
          this.#o.durability === 'full',
        );
      } catch (error) {
        if (StrataError.is(error) && error.details?.unrecoverable) this.#broken = error;
        for (const p of plan.planned) p.work.reject(error);
        return;
      }
      this.counters.batches += plan.lines.length;
    }
    for (const p of plan.planned) {
      for (const space of p.declare) this.#state.space(space);
      this.#state.apply(p.mutations);
      for (const space of p.declare) this.#dirty.set(space, plan.seq);
      for (const m of p.mutations) this.#dirty.set(m.space, plan.seq);
      done.push(() => {
        if (this.#hub.size > 0) for (const m of p.mutations) this.#hub.emit(changeEvent(m, 'local'));
        resolveWork(p);
      });
    }
  }

  // ---- compaction -----------------------------------------------------------------------

  /** Snapshots now hold every change up to `seq`: spaces changed only before it are clean. */
  #foldedUpTo(seq: number): void {
    for (const [space, at] of this.#dirty) if (at <= seq) this.#dirty.delete(space);
    for (const space of this.#legacy) if (!this.#dirty.has(space)) this.#legacy.delete(space);
    this.#compactAt = this.#o.compactBytes;
  }

  #journalBody(): number {
    return this.#cursor.offset - this.#cursor.headerBytes;
  }

  #maybeCompact(): void {
    if (this.#compacting || this.#released || this.#journalBody() < this.#compactAt) return;
    this.#compacting = true;
    this.#serial(() => this.#compact('auto'))
      .catch((error: unknown) => process.emitWarning(`strata: compaction of ${this.#o.dir} failed: ${String(error)}`))
      .finally(() => {
        this.#compacting = false;
      });
  }

  #worthCompacting(mode: CompactionMode): boolean {
    // Old-format snapshots are rewritten with checksums at the first chance that is not a write.
    if (mode !== 'auto' && this.#legacy.size > 0) return true;
    const { due, compactAt } = compactionDue(mode, this.#journalBody(), this.#compactAt, this.#o.compactBytes, () =>
      rewriteBytes(this.#state, this.#dirty.keys()),
    );
    this.#compactAt = compactAt;
    return due;
  }

  /** Compacts in two phases (see compaction.ts): snapshots without the lock, the switch with it. */
  async #compact(mode: CompactionMode): Promise<void> {
    if (this.#released || this.#broken) return;
    if (!(await this.#catchUp(false))) await this.lock.hold(() => this.#catchUp(true), this.#keepUp);
    if (!this.#worthCompacting(mode)) return;
    const claimed = claimCompaction(this.#o.dir);
    if (!claimed && mode !== 'force') return; // another process is compacting
    try {
      await this.#compactClaimed();
    } finally {
      if (claimed) releaseCompaction(this.#o.dir);
    }
  }

  async #compactClaimed(): Promise<void> {
    // Nothing else changes the image while this serial task runs: it stands at `seq`.
    const { seq, offset, header } = this.#cursor;
    const spaces = [...this.#dirty.keys()].filter((space) => this.#state.spaces.has(space));
    // A snapshot must never get ahead of the journal on disk.
    if (this.#o.durability === 'normal') await this.#cursor.sync();
    const prepared = await prepareSnapshots(this.#o.dir, this.#state, spaces, seq);
    try {
      await this.lock.hold(async () => {
        await this.#catchUp(true);
        if (this.#cursor.header.generation !== header.generation) return; // another process compacted meanwhile
        const tail = this.#cursor.bytesFrom(offset);
        const listed = [...new Set([...header.spaces, ...spaces])].sort(compareStrings);
        await commitCompaction(
          this.#o.dir,
          prepared.splice(0),
          { ...header, generation: newGeneration(), base: seq, spaces: listed, createdAt: Date.now() },
          tail,
        );
        const next = openJournal(this.#o.dir, this.#o.name, 'r+');
        this.#cursor.switchTo(next, next.bytes + tail.length, this.#cursor.seq);
        this.#foldedUpTo(seq);
        this.counters.compactions++;
      }, this.#keepUp);
    } finally {
      await discardSnapshots(prepared);
    }
  }

  /** Folds the journal into the snapshots now, if it holds anything. */
  compactNow(): Promise<void> {
    this.#usable();
    return this.#serial(() => this.#compact('force'));
  }

  // ---- watch, stats, verify, close --------------------------------------------------------

  /** Polls the journal while listeners exist, so remote changes arrive without local activity. */
  updatePolling(): void {
    const want = this.#hub.size > 0 && !this.#closed;
    if (want && this.#poller === null) {
      this.#poller = setInterval(() => {
        this.#refresh().catch(() => {}); // the next operation reports the failure
      }, POLL_MS);
      this.#poller.unref();
    } else if (!want && this.#poller !== null) {
      clearInterval(this.#poller);
      this.#poller = null;
    }
  }

  async stats(now = Date.now()): Promise<DriverStats> {
    await this.read(() => undefined);
    // Expired records are invisible: counted apart until the sweeper removes them.
    const spaces = [...this.#state.spaces].map(([space, records]) => spaceStats(space, records, now));
    const storageBytes = await filesSize(this.#o.dir, [JOURNAL_FILE, ...this.#cursor.header.spaces.map(snapshotFileName)]);
    return { driver: this.#o.name, location: this.#o.dir, storageBytes, spaces };
  }

  verify(): Promise<VerifyReport> {
    this.#usable();
    return this.#serial(() =>
      this.lock.hold(async () => {
        const issues: VerifyReport['issues'] = [];
        try {
          await this.#catchUp(true);
        } catch (error) {
          if (!StrataError.is(error, 'CORRUPT')) throw error;
          issues.push({ code: 'CORRUPT', message: error.message });
        }
        return verifyStore(this.#o.dir, this.#o.name, this.#state, issues);
      }),
    );
  }

  /** Finishes queued writes, folds the journal if worthwhile, releases every handle and timer. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.updatePolling();
    this.#closing = (async () => {
      await this.#serial(async () => {});
      await this.#serial(() => this.#compact('close')).catch(() => {}); // the journal still holds everything
      await this.#serial(async () => {
        this.#released = true;
        this.#cursor.close();
        this.lock.dispose();
      });
    })();
    return this.#closing;
  }
}
