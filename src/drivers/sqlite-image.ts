import { randomBytes } from 'node:crypto';
import { closeSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fromSqlite } from './sqlite-errors.js';
import type { RawRecord, RecordImage, StoredRecord } from './driver.js';
import { arrayImage } from './memory-image.js';
import { checkedRecord, corruptRegistry, recordCrc, registryCrc, type CheckedRow } from './sqlite-checksum.js';
import { COLUMNS, registryRowIntact, SPACE_TABLE_COLUMNS, tableName } from './sqlite-spaces.js';

/**
 * Whole-store images of an SQLite store (see `openImage` / `loadImage` in driver.ts).
 *
 * - An image is read through a separate read-only connection inside one read transaction:
 *   WAL mode gives it one point in time while writers keep committing, and the store's own
 *   connection stays free (an open iterator would block it).
 * - A load is staged, then swapped: records are streamed into a scratch SQLite file (never
 *   all in memory), which is then ATTACHed to the store's connection and copied in by one
 *   IMMEDIATE transaction. Other connections see the old state or the new one. A backup
 *   file of the store (VACUUM INTO) has the same tables, so a restore swaps it in the same
 *   way, user tables (SQL migrations) included.
 */

export interface SqliteImageContext {
  db: Database.Database;
  /** The resolved file, or ':memory:'. */
  location: string;
  driver: string;
}

type RegistryRow = [space: string, tbl: string, spec: string | null, crc: number];

const STAGE = 'strata_stage';
const liveSql = '(expires_at IS NULL OR expires_at > ?)';

function registry(db: Database.Database, schema: string, driver: string): RegistryRow[] {
  const rows = db
    .prepare(`SELECT space, tbl, spec, crc FROM ${schema}.strata_spaces ORDER BY space`)
    .raw(true)
    .all() as RegistryRow[];
  for (const row of rows) if (!registryRowIntact(row)) throw corruptRegistry(String(row[0]), driver);
  return rows;
}

function tableExists(db: Database.Database, schema: string, table: string): boolean {
  return db.prepare(`SELECT 1 FROM ${schema}.sqlite_schema WHERE type = 'table' AND name = ?`).pluck().get(table) === 1;
}

/** A point-in-time image of every record live at `now`. */
export function openSqliteImage(ctx: SqliteImageContext, now: number): RecordImage {
  if (ctx.location === ':memory:') {
    // No second connection can see a private in-memory database: copy it in one read transaction.
    return ctx.db
      .transaction(() => {
        const rows = registry(ctx.db, 'main', ctx.driver);
        const records: RawRecord[] = [];
        for (const [space, table] of rows) {
          if (!tableExists(ctx.db, 'main', table)) continue;
          const stmt = ctx.db.prepare(`SELECT ${COLUMNS} FROM ${table} WHERE ${liveSql} ORDER BY key`).raw(true);
          for (const row of stmt.iterate(now) as IterableIterator<CheckedRow>) {
            records.push(imageRecord(space, checkedRecord(row, space, ctx.driver)));
          }
        }
        return arrayImage(
          rows.map((r) => r[0]),
          records,
        );
      })
      .deferred();
  }
  const reader = new Database(ctx.location, { readonly: true, fileMustExist: true });
  let rows: RegistryRow[];
  try {
    reader.exec('BEGIN');
    // The first read fixes the snapshot every later read of this transaction sees.
    rows = registry(reader, 'main', ctx.driver);
  } catch (error) {
    reader.close();
    throw fromSqlite(error, 'image', ctx.driver, ctx.location);
  }
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    try {
      if (reader.inTransaction) reader.exec('ROLLBACK');
    } finally {
      reader.close();
    }
  };
  return {
    spaces: rows.map((r) => r[0]),
    async *[Symbol.asyncIterator]() {
      try {
        for (const [space, table] of rows) {
          if (closed) return;
          if (!tableExists(reader, 'main', table)) continue;
          const stmt = reader.prepare(`SELECT ${COLUMNS} FROM ${table} WHERE ${liveSql} ORDER BY key`).raw(true);
          for (const row of stmt.iterate(now) as IterableIterator<CheckedRow>) {
            if (closed) return;
            yield imageRecord(space, checkedRecord(row, space, ctx.driver));
          }
        }
      } catch (error) {
        throw fromSqlite(error, 'image', ctx.driver, ctx.location);
      } finally {
        close();
      }
    },
    async close() {
      close();
    },
  };
}

/** Where a load stages its records: next to the store (same disk), or the temp dir for ':memory:'. */
function stagePath(location: string): string {
  const name = `.strata-stage-${process.pid}-${randomBytes(6).toString('hex')}.db`;
  return location === ':memory:' ? join(tmpdir(), name) : `${location}${name}`;
}

const ROWS_PER_TRANSACTION = 5000;

/**
 * Streams `source` into a new scratch file laid out like a store (registry and one table
 * per space, records sealed as the driver seals them). Returns its path and the count.
 */
export async function stageImage(location: string, source: AsyncIterable<RawRecord>): Promise<{ path: string; records: number }> {
  const path = stagePath(location);
  // 0600 like the store: the stage holds a copy of the records being loaded.
  closeSync(openSync(path, 'wx', 0o600));
  const db = new Database(path);
  let records = 0;
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(
      'CREATE TABLE strata_spaces (space TEXT PRIMARY KEY, tbl TEXT NOT NULL, spec TEXT, crc INTEGER NOT NULL) WITHOUT ROWID',
    );
    const register = db.prepare('INSERT INTO strata_spaces (space, tbl, spec, crc) VALUES (?, ?, NULL, ?)');
    const inserts = new Map<string, Database.Statement>();
    const insertFor = (space: string): Database.Statement => {
      let stmt = inserts.get(space);
      if (stmt !== undefined) return stmt;
      const table = tableName(space);
      db.exec(`CREATE TABLE ${table} (${SPACE_TABLE_COLUMNS}) WITHOUT ROWID`);
      register.run(space, table, registryCrc(space, table, null));
      // INSERT OR REPLACE: a key given twice keeps its last record, as a merge would.
      stmt = db.prepare(
        `INSERT OR REPLACE INTO ${table} (key, value, version, created_at, updated_at, expires_at, crc, vsum)
         VALUES (?, ?, ?, ?, ?, ?, ?, ((?) * 1000003 + (?) * 31 + (?)) % 4294967291)`,
      );
      inserts.set(space, stmt);
      return stmt;
    };
    let chunk: RawRecord[] = [];
    const flush = db.transaction((rows: RawRecord[]) => {
      for (const r of rows) {
        const crc = recordCrc(r.key, r.value, r.updatedAt, r.expiresAt);
        insertFor(r.space).run(
          r.key,
          r.value,
          r.version,
          r.createdAt,
          r.updatedAt,
          r.expiresAt,
          crc,
          r.version,
          r.createdAt,
          crc,
        );
      }
    });
    for await (const record of source) {
      chunk.push(record);
      records++;
      if (chunk.length >= ROWS_PER_TRANSACTION) {
        flush(chunk);
        chunk = [];
      }
    }
    flush(chunk);
    db.close();
    return { path, records };
  } catch (error) {
    if (db.open) db.close();
    removeStage(path);
    throw error;
  }
}

export function removeStage(path: string): void {
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
}

export interface SwapOptions {
  mode: 'replace' | 'merge';
  /**
   * Also make the tables that are not Strata's (created by SQL migrations), their indexes,
   * triggers and views exactly those of the staged file; only with mode 'replace'. @default false
   */
  userTables?: boolean;
  /** With mode 'replace': spaces starting with it are merged, not replaced (LoadOptions in driver.ts). */
  mergePrefix?: string;
}

const isUserObject = (name: string): boolean => !name.startsWith('strata_') && !name.startsWith('sqlite_');

/**
 * Copies the store-shaped file at `path` into the store in one IMMEDIATE transaction and
 * returns the spaces whose contents may have changed. Watchers in other processes get a
 * `reset` (a deliberate gap in `strata_changes`, see sqlite-watch.ts); the caller tells
 * its own process's listeners.
 */
export function swapIn(ctx: SqliteImageContext, path: string, options: SwapOptions, now: number): string[] {
  const { db } = ctx;
  // Without the memory map while the whole store is rewritten: mapped pages of the file
  // would count in the process's RSS, growing with the store (page cache, but it looks like
  // memory held). Restored afterwards.
  const mmap = db.pragma('mmap_size', { simple: true }) as number;
  if (mmap > 0) db.pragma('mmap_size = 0');
  db.prepare(`ATTACH DATABASE ? AS ${STAGE}`).run(path);
  try {
    return db
      .transaction(() => {
        const staged = registry(db, STAGE, ctx.driver);
        const live = registry(db, 'main', ctx.driver);
        const touched = new Set<string>();
        const stagedSpaces = new Set<string>();
        const merged = (space: string): boolean =>
          options.mode === 'merge' || (options.mergePrefix !== undefined && space.startsWith(options.mergePrefix));
        for (const [space, table, spec] of staged) {
          stagedSpaces.add(space);
          if (!tableExists(db, STAGE, table)) continue;
          touched.add(space);
          db.exec(`CREATE TABLE IF NOT EXISTS main.${table} (${SPACE_TABLE_COLUMNS}) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS main.${table}_expiry ON ${table} (expires_at) WHERE expires_at IS NOT NULL;`);
          const known = live.find((r) => r[0] === space);
          const keptSpec = spec ?? known?.[2] ?? null;
          db.prepare(
            'INSERT INTO main.strata_spaces (space, tbl, spec, crc) VALUES (?, ?, ?, ?) ON CONFLICT (space) DO UPDATE SET spec = excluded.spec, crc = excluded.crc',
          ).run(space, table, keptSpec, registryCrc(space, table, keptSpec));
          // The field indexes the staged store declared.
          const indexes = db
            .prepare(
              `SELECT sql FROM ${STAGE}.sqlite_schema WHERE type = 'index' AND tbl_name = ? AND name LIKE 'strata_ix_%' AND sql IS NOT NULL`,
            )
            .pluck()
            .all(table) as string[];
          for (const sql of indexes) db.exec(sql.replace(/^CREATE INDEX /i, 'CREATE INDEX IF NOT EXISTS main.'));
          const columns = 'key, value, version, created_at, updated_at, expires_at, crc, vsum';
          if (!merged(space)) {
            db.exec(`DELETE FROM main.${table}`);
            // `SELECT *` into the emptied table with the same columns and indexes lets SQLite
            // copy the records and index entries as they are stored, undecoded (its transfer
            // optimization: a million-record restore's swap 1.31 s -> 0.89 s). Columns go by
            // position there, so only when both tables have exactly the same ones in order.
            db.exec(
              sameColumns(db, table)
                ? `INSERT INTO main.${table} SELECT * FROM ${STAGE}.${table}`
                : `INSERT INTO main.${table} (${columns}) SELECT ${columns} FROM ${STAGE}.${table}`,
            );
          } else {
            db.exec(`INSERT OR REPLACE INTO main.${table} (${columns}) SELECT ${columns} FROM ${STAGE}.${table}`);
          }
        }
        if (options.mode === 'replace') {
          // Tables are never dropped (other connections keep their statements): emptied.
          for (const [space, table] of live) {
            if (stagedSpaces.has(space) || merged(space) || !tableExists(db, 'main', table)) continue;
            touched.add(space);
            db.exec(`DELETE FROM main.${table}`);
          }
          if (options.userTables === true) swapUserObjects(db);
        }
        // A gap in the change log: every watching connection resets (sqlite-watch.ts).
        db.prepare(
          `INSERT INTO main.strata_changes (seq, writer, at, changes) VALUES (
             max(coalesce((SELECT seq FROM main.sqlite_sequence WHERE name = 'strata_changes'), 0),
                 coalesce((SELECT max(seq) FROM main.strata_changes), 0)) + 2, 'image', ?, '[]')`,
        ).run(now);
        return [...touched].sort();
      })
      .immediate();
  } finally {
    db.exec(`DETACH DATABASE ${STAGE}`);
    if (mmap > 0) db.pragma(`mmap_size = ${mmap}`);
  }
}

/** Whether `table` has the same columns (names, types, keys, constraints) in the same order in `main` and the stage. */
function sameColumns(db: Database.Database, table: string): boolean {
  const columns = (schema: string): string =>
    JSON.stringify(
      db
        .prepare(`PRAGMA ${schema}.table_xinfo(${quoted(table)})`)
        .raw(true)
        .all(),
    );
  return columns('main') === columns(STAGE);
}

type SchemaRow = { type: string; name: string; tbl_name: string; sql: string | null };

/** Makes the user tables, indexes, triggers and views of `main` exactly the staged ones, rows included. */
/**
 * The columns to copy a user table by: every stored column (generated ones are computed
 * again), and the rowid when the table has one that is not an alias of its primary key, so
 * row ids come back exactly too.
 */
function copyColumns(db: Database.Database, table: string): string {
  type Column = { name: string; type: string; pk: number; hidden: number };
  const info = db.prepare(`PRAGMA ${STAGE}.table_xinfo(${quoted(table)})`).all() as Column[];
  const stored = info.filter((c) => c.hidden === 0);
  const names = stored.map((c) => quoted(c.name));
  const keys = info.filter((c) => c.pk > 0);
  const aliased = keys.length === 1 && keys[0]!.type.toUpperCase() === 'INTEGER';
  let rowid = !aliased;
  if (rowid) {
    try {
      db.prepare(`SELECT rowid FROM ${STAGE}.${quoted(table)} LIMIT 0`).all();
    } catch {
      rowid = false; // WITHOUT ROWID
    }
  }
  return (rowid ? ['rowid', ...names] : names).join(', ');
}

const quoted = (name: string): string => `"${name.replaceAll('"', '""')}"`;

function swapUserObjects(db: Database.Database): void {
  // Tables are dropped and refilled in no particular order: foreign keys are checked at commit.
  db.pragma('defer_foreign_keys = ON');
  const objects = (schema: string): SchemaRow[] =>
    (db.prepare(`SELECT type, name, tbl_name, sql FROM ${schema}.sqlite_schema`).all() as SchemaRow[]).filter(
      (o) => isUserObject(o.name) && isUserObject(o.tbl_name),
    );
  const mine = objects('main');
  const theirs = objects(STAGE);
  for (const o of mine.filter((x) => x.type === 'view' || x.type === 'trigger'))
    db.exec(`DROP ${o.type.toUpperCase()} IF EXISTS main.${quoted(o.name)}`);
  for (const o of mine.filter((x) => x.type === 'table')) db.exec(`DROP TABLE IF EXISTS main.${quoted(o.name)}`);
  for (const o of theirs.filter((x) => x.type === 'table' && x.sql !== null)) {
    db.exec(o.sql!);
    const columns = copyColumns(db, o.name);
    db.exec(`INSERT INTO main.${quoted(o.name)} (${columns}) SELECT ${columns} FROM ${STAGE}.${quoted(o.name)}`);
  }
  const hasSequence = (schema: string): boolean =>
    db.prepare(`SELECT 1 FROM ${schema}.sqlite_schema WHERE name = 'sqlite_sequence'`).pluck().get() === 1;
  if (hasSequence('main')) {
    const names = theirs.filter((x) => x.type === 'table').map((x) => x.name);
    db.prepare(`DELETE FROM main.sqlite_sequence WHERE name IN (SELECT value FROM json_each(?))`).run(JSON.stringify(names));
    if (hasSequence(STAGE)) {
      db.prepare(
        `INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM ${STAGE}.sqlite_sequence WHERE name IN (SELECT value FROM json_each(?))`,
      ).run(JSON.stringify(names));
    }
  }
  for (const o of theirs.filter((x) => x.type === 'index' && x.sql !== null)) db.exec(o.sql!);
  for (const o of theirs.filter((x) => (x.type === 'view' || x.type === 'trigger') && x.sql !== null)) db.exec(o.sql!);
}

/** A checked record as an image holds it: with its space, without its stamp (only meaningful in this store). */
function imageRecord(space: string, record: StoredRecord): RawRecord {
  const { stamp: _stamp, ...rest } = record;
  return { space, ...rest };
}
