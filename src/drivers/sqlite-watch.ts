import type Database from 'better-sqlite3';
import type { ChangeHub } from './base.js';

type ChangeRow = [seq: number, writer: string, changes: string];

const POLL_MS = 50;
const PAGE = 500;
/** A watching connection renews its registration this often; writers trust it for WATCHER_TTL_MS. */
const HEARTBEAT_MS = 5_000;
export const WATCHER_TTL_MS = 30_000;

/**
 * Turns writes by other connections into `remote` change events.
 *
 * Writers log their batches to `strata_changes` only while some other connection is
 * registered in `strata_watchers` (the log costs a page write per commit, so unwatched
 * stores do not pay it). Registration happens in a write transaction before the starting
 * position is read, so every batch committed after `watch()` returned is logged. While
 * someone listens, the watcher polls `PRAGMA data_version` (it changes only when another
 * connection commits, and costs no I/O), then reads the new log rows of other writers.
 * Remote events carry no value: listeners that need it read the record.
 */
export class RemoteWatcher {
  readonly #db: Database.Database;
  readonly #hub: ChangeHub;
  readonly #writer: string;
  readonly #busyTimeoutMs: number;
  readonly #dataVersion: Database.Statement<[], number>;
  readonly #maxSeq: Database.Statement<[], number>;
  readonly #since: Database.Statement<[number, number], ChangeRow>;
  readonly #register: Database.Statement<[string, number]>;
  readonly #unregister: Database.Statement<[string]>;
  #timer: NodeJS.Timeout | null = null;
  #lastVersion = 0;
  #lastSeq = 0;
  #beat = 0;

  constructor(db: Database.Database, writer: string, hub: ChangeHub, busyTimeoutMs: number) {
    this.#db = db;
    this.#hub = hub;
    this.#writer = writer;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.#maxSeq = db.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM strata_changes').pluck();
    this.#since = db
      .prepare<[number, number], ChangeRow>('SELECT seq, writer, changes FROM strata_changes WHERE seq > ? ORDER BY seq LIMIT ?')
      .raw(true);
    this.#register = db.prepare('INSERT OR REPLACE INTO strata_watchers (id, seen) VALUES (?, ?)');
    this.#unregister = db.prepare('DELETE FROM strata_watchers WHERE id = ?');
  }

  /** Starts watching when the hub has listeners, stops when it has none. */
  sync(): void {
    if (this.#hub.size > 0 && this.#timer === null) {
      try {
        this.#db
          .transaction(() => {
            this.#register.run(this.#writer, Date.now());
            this.#lastSeq = this.#maxSeq.get()!;
          })
          .immediate();
        this.#beat = Date.now();
      } catch {
        // Locked for longer than the busy timeout: the heartbeat retries on the next tick.
        this.#lastSeq = this.#maxSeq.get()!;
        this.#beat = 0;
      }
      this.#lastVersion = this.#dataVersion.get()!;
      this.#timer = setInterval(() => this.poll(), POLL_MS);
      this.#timer.unref();
    } else if (this.#hub.size === 0) {
      this.stop();
    }
  }

  stop(): void {
    if (this.#timer === null) return;
    clearInterval(this.#timer);
    this.#timer = null;
    this.#quick(() => this.#unregister.run(this.#writer));
  }

  /** Runs a best-effort write that must not stall the event loop behind another writer. */
  #quick(write: () => unknown): boolean {
    try {
      this.#db.pragma('busy_timeout = 0');
      write();
      return true;
    } catch {
      return false; // the registration expires by itself, or the next tick retries
    } finally {
      this.#db.pragma(`busy_timeout = ${this.#busyTimeoutMs}`);
    }
  }

  /** One poll; public so tests and callers can force a check. */
  poll(): void {
    if (this.#timer === null) return;
    const now = Date.now();
    if (now - this.#beat >= HEARTBEAT_MS && this.#quick(() => this.#register.run(this.#writer, now))) this.#beat = now;
    try {
      const version = this.#dataVersion.get()!;
      if (version === this.#lastVersion) return;
      this.#lastVersion = version;
      let rows: ChangeRow[];
      do {
        rows = this.#since.all(this.#lastSeq, PAGE);
        for (const [seq, writer, changes] of rows) {
          this.#lastSeq = seq;
          if (writer === this.#writer) continue;
          for (const [space, key, version] of JSON.parse(changes) as Array<[string, string, number | null]>) {
            this.#hub.emit({ space, key, type: version === null ? 'delete' : 'put', version, origin: 'remote' });
          }
        }
      } while (rows.length === PAGE && this.#timer !== null);
      // The log restarted (the file was restored or replaced): follow it from where it is.
      if (rows.length === 0) this.#lastSeq = Math.min(this.#lastSeq, this.#maxSeq.get()!);
    } catch {
      // A busy or closing database: the next tick tries again.
    }
  }
}
