import type Database from 'better-sqlite3';
import type { ChangeHub } from './base.js';

type ChangeRow = [seq: number, writer: string, changes: string];
type Stmt = Database.Statement<unknown[], unknown>;

/**
 * How long the change log lives and how watchers stay registered. Internal: tests shrink
 * them (the `watchLimits` driver option) instead of sleeping for half a minute.
 */
export interface WatchLimits {
  /** How often a watcher looks for new commits. @default 50 */
  pollMs: number;
  /** A watching connection renews its registration this often. @default 5000 */
  heartbeatMs: number;
  /** Writers log batches for a watcher whose registration is younger than this. @default 30000 */
  ttlMs: number;
  /** The log always keeps the last `keep` batches that are younger than `maxAgeMs`. @default 10000 */
  keep: number;
  /** @default 60000 */
  maxAgeMs: number;
  /**
   * Batches a live watcher has not read yet are kept beyond `keep` and `maxAgeMs`, up to
   * this many in all: a busy watcher then gets every change, not a reset. @default 100000
   */
  keepUnread: number;
  /** A writer trims the log once per this many batches. @default 500 */
  trimEvery: number;
}

export const DEFAULT_WATCH_LIMITS: Readonly<WatchLimits> = Object.freeze({
  pollMs: 50,
  heartbeatMs: 5_000,
  ttlMs: 30_000,
  keep: 10_000,
  maxAgeMs: 60_000,
  keepUnread: 100_000,
  trimEvery: 500,
});

export function watchLimits(overrides: Partial<WatchLimits> = {}): WatchLimits {
  return { ...DEFAULT_WATCH_LIMITS, ...overrides };
}

/**
 * Where each live watcher has read the log up to, so writers keep what it has not read.
 * Created by whoever needs it first (inside a write transaction), not by the schema: older
 * files and read-only connections work without it.
 */
export const POSITIONS_DDL = `CREATE TABLE IF NOT EXISTS strata_watch_positions (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  seen INTEGER NOT NULL
) WITHOUT ROWID`;

const PAGE = 500;

/**
 * Turns writes by other connections into `remote` change events, and says so with a
 * `reset` event per space whenever it cannot.
 *
 * Writers log their batches to `strata_changes` only while some other connection is
 * registered in `strata_watchers` (the log costs a page write per commit, so unwatched
 * stores do not pay it). Registration happens in a write transaction before the starting
 * position is read, so every batch committed after `watch()` returned is logged. While
 * someone listens, the watcher polls `PRAGMA data_version` (it changes only when another
 * connection commits, and costs no I/O), then reads the new log rows of other writers.
 * Remote events carry no value: listeners that need it read the record.
 *
 * Continuity is checked, never assumed. Log rows are numbered without holes (AUTOINCREMENT,
 * and a batch that rolls back takes its number with it), so when the first row after the
 * watcher's position is not the next number, writers trimmed what it had not read. And a
 * registration older than `ttlMs` (an event loop blocked that long, or a lock that kept the
 * heartbeat out) means writers may have stopped logging. Either way the watcher emits
 * `{ type: 'reset', key: '' }` for every registered space and goes on from the log's present.
 * To make resets rare, the heartbeat also records how far the watcher has read, and writers
 * keep those rows (up to `keepUnread` batches) past the normal limits.
 */
export class RemoteWatcher {
  readonly #db: Database.Database;
  readonly #hub: ChangeHub;
  readonly #writer: string;
  readonly #busyTimeoutMs: number;
  readonly #limits: WatchLimits;
  readonly #dataVersion: Database.Statement<[], number>;
  readonly #present: Database.Statement<[], number>;
  readonly #since: Database.Statement<[number, number], ChangeRow>;
  readonly #spaces: Database.Statement<[], string>;
  readonly #register: Database.Statement<[string, number]>;
  readonly #unregister: Database.Statement<[string]>;
  /** Prepared once the positions table is known to exist (see POSITIONS_DDL). */
  #position: Stmt | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastVersion = 0;
  #lastSeq = 0;
  /** The `seen` time of the last registration that committed; 0: none yet. */
  #beat = 0;

  constructor(db: Database.Database, writer: string, hub: ChangeHub, busyTimeoutMs: number, limits = watchLimits()) {
    this.#db = db;
    this.#hub = hub;
    this.#writer = writer;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#limits = limits;
    this.#dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    // The last number handed out, even when its row was trimmed.
    this.#present = db
      .prepare<[], number>(
        `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'strata_changes'), 0),
                    coalesce((SELECT max(seq) FROM strata_changes), 0))`,
      )
      .pluck();
    this.#since = db
      .prepare<[number, number], ChangeRow>('SELECT seq, writer, changes FROM strata_changes WHERE seq > ? ORDER BY seq LIMIT ?')
      .raw(true);
    this.#spaces = db.prepare<[], string>('SELECT space FROM strata_spaces ORDER BY space').pluck();
    this.#register = db.prepare('INSERT OR REPLACE INTO strata_watchers (id, seen) VALUES (?, ?)');
    this.#unregister = db.prepare('DELETE FROM strata_watchers WHERE id = ?');
  }

  /** Starts watching when the hub has listeners, stops when it has none. */
  sync(): void {
    if (this.#hub.size > 0 && this.#timer === null) {
      const now = Date.now();
      const start = (): void => {
        this.#lastSeq = this.#present.get()!;
        // Rows of watchers that died without unregistering.
        this.#db.exec(POSITIONS_DDL);
        const stale = now - 10 * this.#limits.ttlMs;
        this.#db.prepare('DELETE FROM strata_watch_positions WHERE seen < ?').run(stale);
        this.#db.prepare('DELETE FROM strata_watchers WHERE seen < ?').run(stale);
      };
      if (this.#renew(now, start)) {
        this.#beat = now;
      } else {
        // Locked for longer than the busy timeout: writers may not log for this watcher
        // until a heartbeat gets through, and that heartbeat then reports a reset.
        this.#lastSeq = this.#present.get()!;
        this.#beat = 0;
      }
      this.#lastVersion = this.#dataVersion.get()!;
      this.#timer = setInterval(() => this.poll(), this.#limits.pollMs);
      this.#timer.unref();
    } else if (this.#hub.size === 0) {
      this.stop();
    }
  }

  stop(): void {
    if (this.#timer === null) return;
    clearInterval(this.#timer);
    this.#timer = null;
    this.#quick(() => {
      this.#unregister.run(this.#writer);
      if (this.#position !== null) this.#db.prepare('DELETE FROM strata_watch_positions WHERE id = ?').run(this.#writer);
    });
  }

  /**
   * Registers (or renews) this watcher and records its read position, in one write
   * transaction; `inside` runs in it too. On the first call it waits up to the busy timeout
   * (watch() must not return before writers log for it); later calls must not stall the
   * event loop behind another writer, so they give up at once and the next tick retries.
   */
  #renew(now: number, inside?: () => void): boolean {
    const write = (): void => {
      this.#db
        .transaction(() => {
          this.#register.run(this.#writer, now);
          inside?.();
          this.#positions().run(this.#writer, this.#lastSeq, now);
        })
        .immediate();
    };
    if (inside !== undefined) {
      try {
        write();
        return true;
      } catch {
        this.#position = null; // the table may have been created by the rolled-back transaction
        return false;
      }
    }
    return this.#quick(write);
  }

  #positions(): Stmt {
    if (this.#position === null) {
      this.#db.exec(POSITIONS_DDL);
      this.#position = this.#db.prepare('INSERT OR REPLACE INTO strata_watch_positions (id, seq, seen) VALUES (?, ?, ?)');
    }
    return this.#position;
  }

  /** Runs a best-effort write that must not stall the event loop behind another writer. */
  #quick(write: () => unknown): boolean {
    try {
      this.#db.pragma('busy_timeout = 0');
      write();
      return true;
    } catch {
      this.#position = null;
      return false; // the registration expires by itself, or the next tick retries
    } finally {
      this.#db.pragma(`busy_timeout = ${this.#busyTimeoutMs}`);
    }
  }

  /** One poll; public so tests and callers can force a check. */
  poll(): void {
    if (this.#timer === null) return;
    const ttl = this.#limits.ttlMs;
    try {
      const now = Date.now();
      if (now - this.#beat >= this.#limits.heartbeatMs) {
        const previous = this.#beat;
        if (this.#renew(now)) {
          this.#beat = now;
          // Measured after the renewal committed: every batch logged-or-not before it was
          // judged by its writer at an earlier time.
          if (Date.now() - previous >= ttl) return this.#reset();
        } else if (Date.now() - previous >= ttl) {
          return; // writers may have stopped logging: find out before delivering anything
        }
      }
      const version = this.#dataVersion.get()!;
      if (version === this.#lastVersion) return;
      this.#lastVersion = version;
      let rows: ChangeRow[];
      do {
        rows = this.#since.all(this.#lastSeq, PAGE);
        for (const [seq, writer, changes] of rows) {
          // Rows before this one were trimmed unread.
          if (seq !== this.#lastSeq + 1) return this.#reset();
          this.#lastSeq = seq;
          if (writer === this.#writer) continue;
          let parsed: Array<[string, string, number | null]>;
          try {
            parsed = JSON.parse(changes) as Array<[string, string, number | null]>;
          } catch {
            return this.#reset(); // a damaged row: its changes are unknown, not skippable silently
          }
          for (const [space, key, version] of parsed) {
            this.#hub.emit({ space, key, type: version === null ? 'delete' : 'put', version, origin: 'remote' });
          }
        }
      } while (rows.length === PAGE && this.#timer !== null);
      // The log restarted below our position (the file was restored or replaced).
      if (rows.length === 0 && this.#present.get()! < this.#lastSeq) this.#reset();
    } catch {
      // A busy or closing database: the next tick tries again.
    }
  }

  /** Continuity is lost: say so for every space, then follow the log from its present. */
  #reset(): void {
    this.#lastSeq = this.#present.get()!;
    this.#lastVersion = this.#dataVersion.get()!;
    for (const space of this.#spaces.all()) {
      if (this.#timer === null) return;
      this.#hub.emit({ space, key: '', type: 'reset', version: null, origin: 'remote' });
    }
  }
}
