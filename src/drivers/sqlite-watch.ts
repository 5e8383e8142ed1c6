import type Database from 'better-sqlite3';
import type { ChangeHub } from './base.js';

type ChangeRow = [seq: number, writer: string, space: string, key: string, type: 'put' | 'delete', version: number | null, value: string | null];

const POLL_MS = 50;
const PAGE = 500;

/**
 * Turns writes by other connections into `remote` change events. While someone listens it
 * polls `PRAGMA data_version` (which changes only when another connection commits, and
 * costs no I/O); on a change it reads the new `strata_changes` rows written by others. The
 * value is attached when the record still holds that version.
 */
export class RemoteWatcher {
  readonly #hub: ChangeHub;
  readonly #writer: string;
  readonly #dataVersion: Database.Statement<[], number>;
  readonly #maxSeq: Database.Statement<[], number>;
  readonly #since: Database.Statement<[number, number], ChangeRow>;
  #timer: NodeJS.Timeout | null = null;
  #lastVersion = 0;
  #lastSeq = 0;

  constructor(db: Database.Database, writer: string, hub: ChangeHub) {
    this.#hub = hub;
    this.#writer = writer;
    this.#dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.#maxSeq = db.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM strata_changes').pluck();
    this.#since = db
      .prepare<[number, number], ChangeRow>(
        `SELECT c.seq, c.writer, c.space, c.key, c.type, c.version, r.value
         FROM strata_changes c
         LEFT JOIN strata_records r ON c.type = 'put' AND r.space = c.space AND r.key = c.key
           AND r.version = c.version AND r.updated_at = c.at
         WHERE c.seq > ? ORDER BY c.seq LIMIT ?`,
      )
      .raw(true);
  }

  /** Starts polling when the hub has listeners, stops when it has none. */
  sync(): void {
    if (this.#hub.size > 0 && this.#timer === null) {
      this.#lastVersion = this.#dataVersion.get()!;
      this.#lastSeq = this.#maxSeq.get()!;
      this.#timer = setInterval(() => this.poll(), POLL_MS);
      this.#timer.unref();
    } else if (this.#hub.size === 0) {
      this.stop();
    }
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One poll; public so tests and callers can force a check. */
  poll(): void {
    try {
      const version = this.#dataVersion.get()!;
      if (version === this.#lastVersion) return;
      this.#lastVersion = version;
      let rows: ChangeRow[];
      do {
        rows = this.#since.all(this.#lastSeq, PAGE);
        for (const [seq, writer, space, key, type, version, value] of rows) {
          this.#lastSeq = seq;
          if (writer === this.#writer || this.#timer === null) continue;
          this.#hub.emit(
            value === null
              ? { space, key, type, version, origin: 'remote' }
              : { space, key, type, version, value, origin: 'remote' },
          );
        }
      } while (rows.length === PAGE);
    } catch {
      // A busy or closing database: the next tick tries again.
    }
  }
}
