import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StrataError } from '../errors.js';
import { corruptFile, sqliteError } from './sqlite-errors.js';
import { CRC_FN, registerChecksumFunctions, registryCrc, vsumSql } from './sqlite-checksum.js';
import { createStoreFile } from './sqlite-create.js';
import { checkWal } from './sqlite-wal.js';
import { recoverWal } from './sqlite-recover.js';
import { closeDamaged } from './sqlite-close.js';

/**
 * Version of the tables below, kept in `strata_meta`; bump it with a migration step.
 * 3: every record carries a seal (`crc`, `vsum`) and every registry row a `crc` (sqlite-checksum.ts).
 */
export const SCHEMA_VERSION = 3;

/**
 * Records live in one `WITHOUT ROWID` table per space, created on first use (see
 * sqlite-spaces.ts); `strata_spaces` maps each space to its table and declared spec (`null`
 * until `ensureSpace`). `value` is JSON text so `json_extract` indexes can serve filtered
 * scans. `strata_changes` is a short-lived log, one row per committed batch with a JSON array
 * of [space, key, version | null] (null: deleted), written while a connection listed in
 * `strata_watchers` wants remote change events (see sqlite-watch.ts). Later tables
 * (migrations, journal) get their own `CREATE ... IF NOT EXISTS` here. `ANALYZE` creates
 * `sqlite_stat1`, where field indexes seed their planner statistics.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS strata_meta (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS strata_spaces (
  space TEXT PRIMARY KEY,
  tbl TEXT NOT NULL,
  spec TEXT,
  crc INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS strata_watchers (
  id TEXT PRIMARY KEY,
  seen INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS strata_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  writer TEXT NOT NULL,
  at INTEGER NOT NULL,
  changes TEXT NOT NULL
);
INSERT INTO strata_meta (name, value) VALUES ('schema', '${SCHEMA_VERSION}') ON CONFLICT (name) DO NOTHING;
ANALYZE sqlite_schema;
`;

export interface OpenOptions {
  path: string;
  durability: 'full' | 'normal';
  busyTimeoutMs: number;
  mmapBytes: number;
  readonly: boolean;
  driver: string;
  /** `'wal'`: a damaged WAL is copied aside and SQLite recovers what it can (see sqlite-recover.ts). */
  recover?: 'wal';
}

const MAGIC = 'SQLite format 3\u0000';

/**
 * Catches damage SQLite would only notice later, when it reads the missing pages: a file
 * that is not a database, an empty or cut-off header, or a file shorter than its header
 * says. Strata never leaves an empty store file (new stores are created complete, see
 * sqlite-create.ts), so an empty one lost its contents. The size check is skipped while a
 * WAL or rollback journal exists, since an interrupted checkpoint legitimately leaves the
 * main file short until recovery. Returns the page size.
 */
function checkHeader(path: string, driver: string): number {
  const size = statSync(path).size;
  if (size === 0) throw corruptFile(path, 'the file is empty (0 bytes)', 'open', driver);
  const header = Buffer.alloc(100);
  const fd = openSync(path, 'r');
  let read: number;
  try {
    read = readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  const magic = header.toString('latin1', 0, 16);
  if (read < 16 || magic !== MAGIC) {
    if (MAGIC.startsWith(magic.slice(0, read))) throw corruptFile(path, 'the file is truncated', 'open', driver);
    throw corruptFile(path, 'the file is not a SQLite database', 'open', driver);
  }
  if (read < 100) throw corruptFile(path, 'the database header is truncated', 'open', driver);
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) {
    throw corruptFile(path, 'the database header is invalid', 'open', driver);
  }
  const pages = header.readUInt32BE(28);
  const sizeValid = pages > 0 && header.readUInt32BE(24) === header.readUInt32BE(92);
  const journaled = [`${path}-wal`, `${path}-journal`].some((p) => existsSync(p) && statSync(p).size > 0);
  if (sizeValid && !journaled && size < pages * pageSize) {
    throw corruptFile(path, `the file is truncated (${size} of ${pages * pageSize} bytes)`, 'open', driver);
  }
  return pageSize;
}

function unreadable(path: string, error: unknown, driver: string): StrataError {
  return new StrataError('UNAVAILABLE', `cannot read the SQLite store ${path}: ${(error as Error).message}`, {
    op: 'open',
    driver,
    cause: error,
    hint: 'check that the path is a file readable by this user',
  });
}

/** The file checks that run before SQLite sees the file; creates a missing store complete. */
function prepareFile(path: string, options: OpenOptions): boolean {
  if (!options.readonly) {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      if (!existsSync(path)) createStoreFile(path, (db) => initialise(db, options));
    } catch (error) {
      if (error instanceof StrataError) throw error;
      const denied = ['EACCES', 'EPERM', 'EROFS'].includes(String((error as NodeJS.ErrnoException).code));
      // Retrying never helps a permission problem (UNAVAILABLE, exit 6, tells scripts to).
      throw new StrataError(
        denied ? 'BAD_INPUT' : 'UNAVAILABLE',
        `cannot create the SQLite store ${path}: ${(error as Error).message}`,
        {
          op: 'open',
          driver: options.driver,
          cause: error,
          hint: 'check that the directory is writable by this user',
        },
      );
    }
  }
  let pageSize: number;
  try {
    if (statSync(path).isDirectory()) {
      throw new StrataError('BAD_INPUT', `the SQLite store path ${path} is a directory`, {
        op: 'open',
        driver: options.driver,
        hint: 'name a file inside it, e.g. sqlite:<dir>/app.db (or use file:<dir> for the file driver)',
        details: { location: path },
      });
    }
    pageSize = checkHeader(path, options.driver);
  } catch (error) {
    if (error instanceof StrataError) throw error;
    throw unreadable(path, error, options.driver);
  }
  let damage: string | null;
  try {
    damage = checkWal(path, pageSize).damage;
  } catch (error) {
    throw unreadable(`${path}-wal`, error, options.driver);
  }
  if (damage === null) return false;
  if (options.recover === 'wal' && !options.readonly) {
    recoverWal(path, damage, options.driver);
    return true;
  }
  throw new StrataError('CORRUPT', `the SQLite store ${path} is damaged: ${damage}`, {
    op: 'open',
    driver: options.driver,
    hint:
      'nothing was changed. Restore it from a backup, or open it once with the driver option ' +
      "`recover: 'wal'` (URL: ?recover=wal): the files are first copied to <file>.damaged-<time>/, then the " +
      'commits after the damage are dropped',
    details: { location: path, damage },
  });
}

/** Opens (creating when needed) a store file, sets the pragmas and brings the schema up to date. */
export function openDatabase(options: OpenOptions): Database.Database {
  if (!Number.isSafeInteger(options.mmapBytes) || options.mmapBytes < 0) {
    throw new StrataError('BAD_INPUT', `mmapBytes must be a whole number of bytes >= 0, got ${String(options.mmapBytes)}`, {
      op: 'open',
      driver: options.driver,
      hint: 'pass 0 to turn memory-mapped reads off',
    });
  }
  const memory = options.path === ':memory:';
  const path = memory ? options.path : resolve(options.path);
  const recovered = !memory && prepareFile(path, options);
  const deadline = Date.now() + options.busyTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly: options.readonly, fileMustExist: !memory, timeout: options.busyTimeoutMs });
      if (!memory) refuseForeign(db, path, options.driver);
      configure(db, options);
      migrate(db, options);
      // Recovery replayed the WAL's valid prefix; checkpoint it now so the damaged log is gone.
      if (recovered) db.pragma('wal_checkpoint(TRUNCATE)');
      return db;
    } catch (error) {
      // Damage met while opening: close without applying the WAL to the file.
      if (db?.open !== true) {
        // Not opened, or closed already (refuseForeign).
      } else if (sqliteError(error, 'open', options.driver).code === 'CORRUPT' && !memory) closeDamaged(db, path);
      else db.close();
      // Several processes opening a file at once race to switch it to WAL and upgrade the
      // schema; SQLite answers some of those with SQLITE_BUSY at once, without waiting on
      // busy_timeout. Opening is rare and short, so wait synchronously and try again.
      if (isBusy(error) && Date.now() < deadline) {
        Atomics.wait(SLEEPER, 0, 0, Math.min(50, 2 ** attempt));
        continue;
      }
      throw sqliteError(error, 'open', options.driver, path);
    }
  }
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

export function configure(
  db: Database.Database,
  options: Pick<OpenOptions, 'readonly' | 'durability' | 'mmapBytes' | 'path' | 'driver'>,
): void {
  // A schema read from an untrusted file must not run application functions.
  db.pragma('trusted_schema = OFF');
  // Quota usage triggers (sqlite-usage.ts) must also see the rows INSERT OR REPLACE deletes.
  db.pragma('recursive_triggers = ON');
  registerChecksumFunctions(db, options.driver);
  if (!options.readonly) db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
  // macOS only: fsync alone does not flush the drive's cache, so power loss could lose commits.
  if (options.durability === 'full') db.pragma('fullfsync = ON');
  // A large transaction grows the WAL; cap what stays on disk after the next checkpoint.
  db.pragma('journal_size_limit = 67108864');
  // The default 2 MB page cache makes random reads of a large store go to the OS for most
  // pages; 32 MiB keeps the upper b-tree levels resident. Pages are allocated on use only.
  db.pragma('cache_size = -32768');
  // Reads within the first mmapBytes of the file come straight from the kernel's page cache,
  // with no read() call and no copy into the cache above: at 1M records random gets run ~25%
  // faster. Writes still go through write(), so a mapped page is never modified in place.
  if (options.path !== ':memory:') db.pragma(`mmap_size = ${options.mmapBytes}`);
}

/** Creates the tables of a new store (idempotent DDL, one write transaction). */
function initialise(db: Database.Database, options: OpenOptions): void {
  configure(db, { ...options, readonly: false });
  db.transaction(() => db.exec(SCHEMA)).immediate();
}

const readVersion = (db: Database.Database): number => {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'strata_meta'").pluck().get() === 1;
  return hasMeta ? Number(db.prepare("SELECT value FROM strata_meta WHERE name = 'schema'").pluck().get() ?? 0) : 0;
};

const isStrataStore = (db: Database.Database): boolean =>
  db
    .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND (name = 'strata_spaces' OR name GLOB 'strata_s_*') LIMIT 1")
    .pluck()
    .get() === 1;

/**
 * An existing SQLite file without Strata's tables belongs to someone else (Strata creates its
 * files complete, tables included, see sqlite-create.ts): CORRUPT, checked before anything
 * (the switch to WAL included) writes to it, so the file is left exactly as it was.
 */
function refuseForeign(db: Database.Database, path: string, driver: string): void {
  const ours = db
    .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name IN ('strata_meta', 'strata_spaces') LIMIT 1")
    .pluck()
    .get();
  if (ours === 1 || isStrataStore(db)) return;
  // A plain close: nothing was written, and SQLite removes the -wal and -shm it made for a
  // WAL-mode file, which a close kept for damage (closeDamaged) would leave behind.
  db.close();
  throw new StrataError('CORRUPT', `${path} is a SQLite database but not a Strata store: it has none of Strata's tables`, {
    op: 'open',
    driver,
    hint: 'nothing was changed. Point the URL at a new file for a new store (Strata creates it), or at the store file you meant',
    details: { location: path },
  });
}

function migrate(db: Database.Database, options: OpenOptions): void {
  const version = readVersion(db);
  if (version > SCHEMA_VERSION) {
    throw new StrataError('UNSUPPORTED', `the SQLite store ${options.path} was written by a newer Strata (schema ${version})`, {
      op: 'open',
      driver: options.driver,
      hint: 'upgrade stratadb to open it',
    });
  }
  if (version === SCHEMA_VERSION) return;
  if (version === 1) {
    // Schema 1 kept every space in one shared table; there were no users to migrate.
    throw new StrataError('UNSUPPORTED', `the SQLite store ${options.path} uses an older Strata format (schema ${version})`, {
      op: 'open',
      driver: options.driver,
      hint: 'read its records with the stratadb version that wrote it and write them into a new store',
    });
  }
  if (version === 0 && isStrataStore(db)) {
    // Strata's tables are there but the version row is not: the meta table is damaged.
    throw corruptFile(options.path, 'its schema version record is missing', 'open', options.driver);
  }
  if (version !== 0 && version !== 2) {
    throw corruptFile(options.path, `its schema version is not one Strata ever wrote (${version})`, 'open', options.driver);
  }
  if (options.readonly && version === 0) {
    throw new StrataError('UNAVAILABLE', `the SQLite store ${options.path} has not been initialised`, {
      op: 'open',
      driver: options.driver,
      hint: 'open it once without readonly so Strata can create its tables',
    });
  }
  if (options.readonly) {
    throw new StrataError(
      'UNSUPPORTED',
      `the SQLite store ${options.path} needs an upgrade (schema ${version}) before it can be read`,
      {
        op: 'open',
        driver: options.driver,
        hint: 'open it once without readonly so Strata can upgrade it in place',
      },
    );
  }
  db.transaction(() => {
    // Another process may have upgraded it while this one waited for the lock.
    const now = readVersion(db);
    if (now === SCHEMA_VERSION) return;
    if (now === 2) upgradeFrom2(db);
    else db.exec(SCHEMA); // a SQLite file that is not yet a Strata store
  }).immediate();
}

/**
 * Schema 2 -> 3 in one transaction: every space table and the registry get their `crc`
 * column, computed from the rows as they are (the file was written without checksums, so
 * its present contents are what they vouch for).
 */
function upgradeFrom2(db: Database.Database): void {
  const tables = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name GLOB 'strata_s_*'")
    .pluck()
    .all() as string[];
  for (const table of tables) {
    db.exec(`ALTER TABLE ${table} ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE ${table} ADD COLUMN vsum INTEGER NOT NULL DEFAULT 0;
      UPDATE ${table} SET crc = ${CRC_FN}(key, value, updated_at, expires_at);
      UPDATE ${table} SET vsum = ${vsumSql('version', 'created_at', 'crc')};`);
  }
  db.exec('ALTER TABLE strata_spaces ADD COLUMN crc INTEGER NOT NULL DEFAULT 0');
  const update = db.prepare('UPDATE strata_spaces SET crc = ? WHERE space = ?');
  const rows = db.prepare('SELECT space, tbl, spec FROM strata_spaces').raw(true).all() as Array<[string, string, string | null]>;
  for (const [space, table, spec] of rows) update.run(registryCrc(space, table, spec), space);
  db.prepare("UPDATE strata_meta SET value = ? WHERE name = 'schema'").run(String(SCHEMA_VERSION));
}
