import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { parseJson } from '../codec/json.js';
import { DAMAGED_FN, VOK_SQL, corruptRegistry, registryCrc, vsumSql } from './sqlite-checksum.js';

type Stmt = Database.Statement<unknown[], unknown[]>;

/** Connection-local SQL function through which the upsert reports an overwrite (sqlite-batch.ts). */
export const REPORT_FN = 'strata_overwrote';
/**
 * Connection-local SQL function through which a `quietManyPlain` statement names each row it
 * left alone because the row has an expiry (sqlite-batch.ts writes those again in full).
 */
export const KEPT_TTL_FN = 'strata_kept_ttl';

/**
 * Rows per `quietMany` statement. One statement per record costs more in better-sqlite3's
 * call, bind and reset than SQLite spends on the row: 16 rows per statement measured
 * ~1.4 -> ~0.93 us per row (8: 0.97, 32: 0.90, not worth the longer SQL).
 */
export const QUIET_ROWS = 16;

/** Every column a read returns, then the seal's crc and its checked sum (see sqlite-checksum.ts). */
export const COLUMNS = `key, value, version, created_at, updated_at, expires_at, crc, ${VOK_SQL}`;

/**
 * `get` reads one text column, "crc version created key NUL updated expires value", rather
 * than a row: better-sqlite3 spends more building a five-element array than SQLite spends on
 * the lookup (measured: the array costs ~40% of a cached get; one string and a few slices,
 * ~15%). Everything from the key on is exactly the text the checksum covers, so the read
 * checks it with one crc32 call and no JS concatenation. The `vsum` check runs in SQL: a row
 * failing it reads as NULL, which better-sqlite3 returns as `null` (a missing row is
 * `undefined`), so a damaged row is never mistaken for a missing one. `concat` turns a NULL
 * field (damage, or no expiry) into ''.
 */
const PACKED = `CASE WHEN ${VOK_SQL} THEN concat(crc, ' ', version, ' ', created_at, ' ', key, char(0), updated_at, ' ', expires_at, ' ', value) END`;
/** `getValue`'s column: the same check and checked text, without version and created_at. */
export const VALUE_PACKED = `CASE WHEN ${VOK_SQL} THEN concat(crc, ' ', key, char(0), updated_at, ' ', expires_at, ' ', value) END`;

/** Rows a space is assumed to hold until a real ANALYZE says otherwise (see `planIndexStats`). */
const PLANNER_ROWS_PER_SPACE = 10_000;

const hash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 24);

/**
 * The table of a space: a hash, so no user text reaches SQL as an identifier, and every
 * process derives the same name without asking anyone.
 */
export function tableName(space: string): string {
  return `strata_s_${hash(space)}`;
}

/** Index name for a space's field, for the same reason. */
export function indexName(space: string, path: string): string {
  return `strata_ix_${hash(`table\u0000${space}\u0000${path}`)}`;
}

/** The statements of one space's table, prepared once per connection. */
export interface SpaceStatements {
  table: string;
  get: Stmt;
  getValue: Stmt;
  getMany: Stmt;
  row: Stmt;
  upsert: Stmt;
  quietUpsert: Stmt;
  /** QUIET_ROWS quiet puts in one statement (their 7 parameters each, in order). */
  quietMany: Stmt;
  /**
   * The `Plain` variants write a record without expiry over a row that has none either,
   * leaving `expires_at` out of their SET: a statement that sets it maintains the expiry
   * index for every row, which measured 20-30% of the SQL time of 1M upserts (7.3-7.6 s
   * against 5.2-5.7 s without, raw better-sqlite3 5.3-5.6 s). A row that has an expiry is
   * left alone (0 changes; `quietManyPlain` names it through KEPT_TTL_FN) for the full
   * statement to write.
   */
  upsertPlain: Stmt;
  quietUpsertPlain: Stmt;
  quietManyPlain: Stmt;
  replace: Stmt;
  remove: Stmt;
  purge: Stmt;
  /** Removes at most `limit` expired records (found through the expiry index). */
  purgeSome: Stmt;
  any: Stmt;
  count: Stmt;
  bytes: Stmt;
}

/**
 * Removes a table's expired records (parameters: now, and with `bounded` a limit, found through
 * the expiry index). The batch runner appends `RETURNING key` when watchers need the keys.
 */
export function purgeSql(table: string, bounded: boolean): string {
  const expired = 'expires_at IS NOT NULL AND expires_at <= ?';
  return bounded
    ? `DELETE FROM ${table} WHERE key IN (SELECT key FROM ${table} WHERE ${expired} LIMIT ?)`
    : `DELETE FROM ${table} WHERE ${expired}`;
}

/** The columns of a space table (also the upgrade target of a schema-2 file, see sqlite-schema.ts). */
export const SPACE_TABLE_COLUMNS = `key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        expires_at INTEGER,
        crc INTEGER NOT NULL,
        vsum INTEGER NOT NULL`;

function prepareSpace(db: Database.Database, table: string, space: string): SpaceStatements {
  const p = (sql: string): Stmt => {
    const stmt = db.prepare(sql) as Stmt;
    return stmt.reader ? stmt.raw(true) : stmt;
  };
  // The seal of an inserted row (version 1) is computed in JS and bound (crc, vsum); an
  // overwrite keeps the bound crc and computes vsum from the new version in SQL, after
  // checking the old row's vsum (the version and created_at it carries forward).
  const insert = `INSERT INTO ${table} (key, value, version, created_at, updated_at, expires_at, crc, vsum) VALUES (?, ?, 1, ?, ?, ?, ?, ?)`;
  const spaceLiteral = `CAST(X'${Buffer.from(space).toString('hex')}' AS TEXT)`;
  const next = `CASE WHEN ${VOK_SQL} THEN version + 1 ELSE ${DAMAGED_FN}(${spaceLiteral}, key) END`;
  // `keepsExpiry`: the put has no expiry and only overwrites a row that has none either (the
  // row is live and keeps expires_at NULL), so expires_at stays out of SET (see SpaceStatements).
  const overwrite = (version: string, keepsExpiry = false) => `
      ON CONFLICT (key) DO UPDATE SET
        value = excluded.value,
        version = ${version},
        updated_at = excluded.updated_at,${keepsExpiry ? '' : '\n        expires_at = excluded.expires_at,'}
        crc = excluded.crc,
        vsum = ${vsumSql('version + 1', 'created_at', 'excluded.crc')}
      WHERE ${keepsExpiry ? 'expires_at IS NULL' : 'expires_at IS NULL OR expires_at > excluded.updated_at'}`;
  // Many rows at once cannot report which ones met an expired key, so an expired row is
  // started again at version 1 in the statement itself, as `replace` would: its created_at
  // and vsum become the inserted ones, and its seal is not checked (it is discarded). A live
  // row is overwritten exactly as by `quietUpsert`. SET reads the old row's columns.
  const expired = 'expires_at <= excluded.updated_at';
  const manyValues = `${insert.slice(0, insert.indexOf('VALUES') + 'VALUES'.length)} ${Array.from(
    { length: QUIET_ROWS },
    () => '(?, ?, 1, ?, ?, ?, ?, ?)',
  ).join(', ')}`;
  // The function is given expires_at and names the row only when it is set, so it is right
  // whether or not SQLite evaluates it for rows the first test already let through.
  const manyPlain = `${manyValues}${overwrite(next, true)} OR ${KEPT_TTL_FN}(key, expires_at)`;
  const many = `${manyValues}
      ON CONFLICT (key) DO UPDATE SET
        value = excluded.value,
        version = CASE WHEN ${expired} THEN 1 ELSE ${next} END,
        created_at = CASE WHEN ${expired} THEN excluded.created_at ELSE created_at END,
        updated_at = excluded.updated_at,
        expires_at = excluded.expires_at,
        crc = excluded.crc,
        vsum = CASE WHEN ${expired} THEN excluded.vsum ELSE ${vsumSql('version + 1', 'created_at', 'excluded.crc')} END`;
  return {
    table,
    quietMany: p(many),
    get: (db.prepare(`SELECT ${PACKED} FROM ${table} WHERE key = ?`) as Stmt).pluck(true),
    getValue: (db.prepare(`SELECT ${VALUE_PACKED} FROM ${table} WHERE key = ?`) as Stmt).pluck(true),
    getMany: p(`SELECT ${COLUMNS} FROM ${table} WHERE key IN (SELECT value FROM json_each(?))`),
    row: p(`SELECT ${COLUMNS} FROM ${table} WHERE key = ?`),
    // A new key is inserted at version 1; a live one is updated in place and reported; an
    // expired one is left alone (0 changes) for `replace` to start again at version 1.
    upsert: p(`${insert}${overwrite(`${REPORT_FN}(${next}, created_at)`)}`),
    // The same without the report, for batches whose results nobody reads.
    quietUpsert: p(`${insert}${overwrite(next)}`),
    upsertPlain: p(`${insert}${overwrite(`${REPORT_FN}(${next}, created_at)`, true)}`),
    quietUpsertPlain: p(`${insert}${overwrite(next, true)}`),
    quietManyPlain: p(manyPlain),
    replace: p(insert.replace('INSERT INTO', 'INSERT OR REPLACE INTO')),
    remove: p(`DELETE FROM ${table} WHERE key = ?`),
    purge: p(purgeSql(table, false)),
    purgeSome: p(purgeSql(table, true)),
    any: p(`SELECT 1 FROM ${table} LIMIT 1`),
    count: p(`SELECT count(*) FROM ${table}`),
    // Live records, expired-but-not-swept records, bytes of the live ones (@now: the clock).
    bytes: p(`SELECT count(*) FILTER (WHERE expires_at IS NULL OR expires_at > @now),
        count(*) FILTER (WHERE expires_at <= @now),
        coalesce(sum(octet_length(key) + octet_length(value)) FILTER (WHERE expires_at IS NULL OR expires_at > @now), 0)
      FROM ${table}`),
  };
}

type RegistryRow = [space: string, tbl: string, spec: string | null, crc: number];

/** Whether a raw `strata_spaces` row (space, tbl, spec, crc) is intact and names its own table. */
export function registryRowIntact(row: readonly unknown[]): boolean {
  const [space, table, spec, crc] = row;
  return (
    typeof space === 'string' &&
    typeof table === 'string' &&
    (spec === null || typeof spec === 'string') &&
    table === tableName(space) &&
    registryCrc(space, table, spec) === crc
  );
}

/** A registered space: its name, table and declared spec (`null`: created by a write only). */
export interface SpaceEntry {
  space: string;
  table: string;
  spec: string | null;
}

/**
 * Every space lives in its own `WITHOUT ROWID` table keyed by `key` alone: a composite
 * `(space, key)` key in one shared table measured 12-15% slower for point reads and writes.
 * `strata_spaces` lists the spaces and their tables, so `spaces()`, `purgeExpired`, `stats`
 * and `verify` need not parse `sqlite_schema`. Tables are never dropped, so once a
 * connection has seen a table its statements stay valid; a table created inside a
 * transaction that rolls back is forgotten again (`settle`).
 */
export class SpaceTables {
  readonly #db: Database.Database;
  readonly #cache = new Map<string, SpaceStatements>();
  readonly #pending: string[] = [];
  readonly #exists: Database.Statement<[string], number>;
  readonly #register: Stmt;
  readonly #getSpec: Database.Statement<[string], RegistryRow>;
  readonly #putSpec: Stmt;
  readonly #list: Database.Statement<[], RegistryRow>;
  readonly #driver: string;

  constructor(db: Database.Database, driver = 'sqlite') {
    this.#db = db;
    this.#driver = driver;
    this.#exists = db.prepare<[string], number>("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck();
    this.#register = db.prepare(
      'INSERT INTO strata_spaces (space, tbl, spec, crc) VALUES (?, ?, NULL, ?) ON CONFLICT (space) DO NOTHING',
    );
    this.#getSpec = db
      .prepare<[string], RegistryRow>('SELECT space, tbl, spec, crc FROM strata_spaces WHERE space = ?')
      .raw(true);
    this.#putSpec = db.prepare('UPDATE strata_spaces SET spec = ?, crc = ? WHERE space = ?');
    this.#list = db.prepare<[], RegistryRow>('SELECT space, tbl, spec, crc FROM strata_spaces ORDER BY space').raw(true);
  }

  /** A registry row as read, checked: CORRUPT when it fails its checksum or names the wrong table. */
  #checked(row: RegistryRow): RegistryRow {
    if (!registryRowIntact(row)) throw corruptRegistry(String(row[0]), this.#driver);
    return row;
  }

  /** The statements of an existing space table, or `null` when no one has written the space yet. */
  lookup(space: string): SpaceStatements | null {
    const known = this.#cache.get(space);
    if (known !== undefined) return known;
    const table = tableName(space);
    // Not cached when absent: another process may create it at any time.
    if (this.#exists.get(table) !== 1) return null;
    const stmts = prepareSpace(this.#db, table, space);
    this.#cache.set(space, stmts);
    return stmts;
  }

  /**
   * The statements of a space, creating its table when needed. Runs inside a write
   * transaction: `IF NOT EXISTS` because another process may have created it meanwhile.
   */
  ensure(space: string): SpaceStatements {
    const known = this.#cache.get(space);
    if (known !== undefined) return known;
    const table = tableName(space);
    this.#db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
        ${SPACE_TABLE_COLUMNS}
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS ${table}_expiry ON ${table} (expires_at) WHERE expires_at IS NOT NULL;`);
    this.#register.run(space, table, registryCrc(space, table, null));
    const stmts = prepareSpace(this.#db, table, space);
    this.#cache.set(space, stmts);
    this.#pending.push(space);
    return stmts;
  }

  /** Ends a write transaction: after a rollback, tables it created no longer exist. */
  settle(committed: boolean): void {
    if (!committed) for (const space of this.#pending) this.#cache.delete(space);
    this.#pending.length = 0;
  }

  /** The declared index paths of a space (inside a write transaction). */
  declaredIndexes(space: string): string[] {
    return this.declared(space) ?? [];
  }

  /** Whether the registry lists the space (a table is always created with its registry row). */
  registered(space: string): boolean {
    const row = this.#getSpec.get(space);
    return row !== undefined && this.#checked(row) !== undefined;
  }

  /** The declared index paths of a space, `null` when it was never declared. */
  declared(space: string): string[] | null {
    const row = this.#getSpec.get(space);
    const spec = row === undefined ? null : this.#checked(row)[2];
    return spec === null ? null : ((parseJson(spec) as { indexes?: string[] }).indexes ?? []);
  }

  /** Marks a space declared and records its index paths (after `ensure`). */
  declare(space: string, indexes: readonly string[]): void {
    const spec = JSON.stringify({ indexes: [...indexes].sort() });
    this.#putSpec.run(spec, registryCrc(space, tableName(space), spec), space);
  }

  /**
   * Creates the expression index of one field of a space (idempotent) and tells the planner
   * about it. `field` is SQL built from a validated path; names are generated.
   */
  createFieldIndex(space: string, path: string, field: string): void {
    const table = this.ensure(space).table;
    const index = indexName(space, path);
    this.#db.exec(`CREATE INDEX IF NOT EXISTS ${index} ON ${table} (${field})`);
    this.#planIndexStats(table, index);
    this.#db.exec('ANALYZE sqlite_schema');
  }

  /**
   * Without statistics SQLite guesses badly how selective a field index is and may prefer
   * walking the whole table by key. Seeding `sqlite_stat1` with "many rows, few per indexed
   * value" makes filtered and sorted scans use their index; a later real ANALYZE (e.g.
   * `PRAGMA optimize`) replaces these guesses.
   */
  #planIndexStats(table: string, index: string): void {
    const seeded = this.#db.prepare('SELECT 1 FROM sqlite_stat1 WHERE tbl = ? AND idx = ?').pluck().get(table, index);
    if (seeded === 1) return;
    // Index columns: the field, then the key.
    this.#db
      .prepare('INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)')
      .run(table, index, `${PLANNER_ROWS_PER_SPACE} 10 1`);
  }

  /** Every registered space with its statements, in name order; CORRUPT when a registry row is damaged. */
  all(): Array<SpaceEntry & { stmts: SpaceStatements | null }> {
    return this.#list.all().map((row) => {
      const [space, table, spec] = this.#checked(row);
      return { space, table, spec, stmts: this.lookup(space) };
    });
  }

  clear(): void {
    this.#cache.clear();
  }
}
