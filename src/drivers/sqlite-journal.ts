import type Database from 'better-sqlite3';
import { headOf, JOURNAL_SPACE, journalRecords, type JournalChange, type JournalHead } from '../ops/journal-entry.js';
import type { BatchResult, StoredRecord, WriteOp } from './driver.js';
import type { SpaceStatements, SpaceTables } from './sqlite-spaces.js';
import { insertVsum, recordCrc } from './sqlite-checksum.js';

type Stmt = Database.Statement<unknown[], unknown[]>;

/**
 * The `journal` op of a batch on SQLite: runs inside the batch's IMMEDIATE transaction, after
 * its writes. The write lock serialises every connection, so reading the newest entry here
 * and numbering on from it keeps seq numbers contiguous across processes.
 */
export class SqliteJournal {
  readonly #db: Database.Database;
  readonly #tables: SpaceTables;
  /** The "newest entry" statement per prepared journal table (a rolled-back table is a new object). */
  readonly #newest = new WeakMap<SpaceStatements, Stmt>();
  /** The newest entry this connection wrote, and the head it makes. */
  #last: { key: string; value: string; head: JournalHead } | undefined;

  constructor(db: Database.Database, tables: SpaceTables) {
    this.#db = db;
    this.#tables = tables;
  }

  /** Appends the entries of the batch `ops` whose per-op results are `results`. */
  append(ops: readonly WriteOp[], results: readonly BatchResult[], now: number): void {
    const changes: JournalChange[] = [];
    ops.forEach((op, i) => {
      if (op.type === 'put') changes.push({ space: op.space, key: op.key, record: results[i] as StoredRecord });
      else if (op.type === 'delete' && results[i] != null) changes.push({ space: op.space, key: op.key, record: null });
    });
    if (changes.length === 0) return;
    const t = this.#tables.ensure(JOURNAL_SPACE);
    let newest = this.#newest.get(t);
    if (newest === undefined) {
      newest = this.#db.prepare(`SELECT key, value FROM ${t.table} ORDER BY key DESC LIMIT 1`).raw(true) as Stmt;
      this.#newest.set(t, newest);
    }
    const row = newest.get() as [string, string] | undefined;
    // The entry this connection wrote last, when it is still the newest one (byte for byte):
    // its head is known, so it is not parsed and hashed again on every write.
    const last = this.#last;
    const head =
      row !== undefined && last !== undefined && row[0] === last.key && row[1] === last.value
        ? last.head
        : headOf(row?.[0], row?.[1]);
    const records = journalRecords(changes, head, now);
    for (const { key, value } of records) {
      const crc = recordCrc(key, value, now, null);
      const vsum = insertVsum(crc, now);
      if (t.upsert.run(key, value, now, now, null, crc, vsum).changes === 0) t.replace.run(key, value, now, now, null, crc, vsum);
    }
    const newestWritten = records[records.length - 1];
    if (newestWritten !== undefined) {
      this.#last = {
        key: newestWritten.key,
        value: newestWritten.value,
        head: { seq: newestWritten.seq, hash: newestWritten.hash },
      };
    }
  }
}
