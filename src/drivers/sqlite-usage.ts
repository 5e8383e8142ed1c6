import type Database from 'better-sqlite3';
import { ALL_USER_SPACES, isUserSpace, type Usage } from './quota-usage.js';
import type { SpaceTables } from './sqlite-spaces.js';

type Stmt = Database.Statement<unknown[], unknown[]>;

/** Bytes as stats() counts them: UTF-8 of key and value. */
const SIZE = (row: 'NEW' | 'OLD'): string => `octet_length(${row}.key) + octet_length(${row}.value)`;

/**
 * Maintained usage of the spaces that carry a quota. Summing a space's sizes walks every row
 * (~21 ms per check at 100k records, measured), so the first quota check of a space counts
 * it once and installs triggers that keep `strata_usage` (records held and their bytes,
 * expired ones included) in step with every write, by any connection or process. The live
 * usage is then that row minus the expired rows still held, found through the expiry index.
 * Spaces nobody declared a quota for get no triggers and pay nothing.
 *
 * `INSERT OR REPLACE` deletes the row it replaces without firing delete triggers unless
 * `recursive_triggers` is on: every connection turns it on (sqlite-schema.ts `configure`).
 */
export class SqliteUsage {
  readonly #db: Database.Database;
  readonly #tables: SpaceTables;
  /** Statements over `strata_usage`, prepared once it exists (dropped after a rollback). */
  #read: Stmt | null = null;
  #insert: Stmt | null = null;
  readonly #expired = new Map<string, Stmt>();
  readonly #held = new Map<string, Stmt>();

  constructor(db: Database.Database, tables: SpaceTables) {
    this.#db = db;
    this.#tables = tables;
  }

  /** The live usage of `space` (or of every user space for `'*'`), inside a write transaction. */
  live(space: string, now: number): Usage {
    const usage = { records: 0, bytes: 0 };
    const spaces =
      space === ALL_USER_SPACES
        ? this.#tables
            .all()
            .map((e) => e.space)
            .filter(isUserSpace)
        : [space];
    for (const name of spaces) {
      const table = this.#tables.lookup(name)?.table;
      if (table === undefined) continue; // never written: empty
      const [records, bytes] = this.#tracked(table);
      const [expired, expiredBytes] = this.#statement(this.#expired, table, EXPIRED_SQL).get(now) as [number, number];
      usage.records += records - expired;
      usage.bytes += bytes - expiredBytes;
    }
    return usage;
  }

  /** Ends a write transaction: after a rollback, `strata_usage` may be gone again. */
  settle(committed: boolean): void {
    if (committed) return;
    this.#read = null;
    this.#insert = null;
  }

  /** The maintained row of `table`, counting it and installing its triggers on first use. */
  #tracked(table: string): [records: number, bytes: number] {
    if (this.#read === null) {
      this.#db.exec(USAGE_DDL);
      this.#read = this.#db.prepare('SELECT records, bytes FROM strata_usage WHERE tbl = ?').raw(true) as Stmt;
      this.#insert = this.#db.prepare('INSERT INTO strata_usage (tbl, records, bytes) VALUES (?, ?, ?)');
    }
    const row = this.#read.get(table) as [number, number] | undefined;
    if (row !== undefined) return row;
    this.#db.exec(triggersFor(table));
    const held = this.#statement(this.#held, table, HELD_SQL).get() as [number, number];
    this.#insert!.run(table, held[0], held[1]);
    return held;
  }

  #statement(cache: Map<string, Stmt>, table: string, sql: (table: string) => string): Stmt {
    let stmt = cache.get(table);
    if (stmt === undefined) {
      // Space tables are never dropped: the statement stays valid on this connection.
      stmt = this.#db.prepare(sql(table)).raw(true) as Stmt;
      cache.set(table, stmt);
    }
    return stmt;
  }
}

const USAGE_DDL = `CREATE TABLE IF NOT EXISTS strata_usage (
  tbl TEXT PRIMARY KEY,
  records INTEGER NOT NULL,
  bytes INTEGER NOT NULL
) WITHOUT ROWID`;

const HELD_SQL = (table: string): string =>
  `SELECT count(*), coalesce(sum(octet_length(key) + octet_length(value)), 0) FROM ${table}`;
const EXPIRED_SQL = (table: string): string =>
  `SELECT count(*), coalesce(sum(octet_length(key) + octet_length(value)), 0) FROM ${table}
   WHERE expires_at IS NOT NULL AND expires_at <= ?`;

/** `table` is a generated name (`strata_s_<hex>`, sqlite-spaces.ts): safe as an identifier and a literal. */
function triggersFor(table: string): string {
  const row = `UPDATE strata_usage SET`;
  const where = `WHERE tbl = '${table}'`;
  return `
    CREATE TRIGGER IF NOT EXISTS ${table}_usage_insert AFTER INSERT ON ${table} BEGIN
      ${row} records = records + 1, bytes = bytes + ${SIZE('NEW')} ${where}; END;
    CREATE TRIGGER IF NOT EXISTS ${table}_usage_update AFTER UPDATE OF key, value ON ${table} BEGIN
      ${row} bytes = bytes - (${SIZE('OLD')}) + ${SIZE('NEW')} ${where}; END;
    CREATE TRIGGER IF NOT EXISTS ${table}_usage_delete AFTER DELETE ON ${table} BEGIN
      ${row} records = records - 1, bytes = bytes - (${SIZE('OLD')}) ${where}; END;`;
}
