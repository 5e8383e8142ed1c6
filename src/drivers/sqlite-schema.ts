import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StrataError } from '../errors.js';
import { corruptFile, sqliteError } from './sqlite-errors.js';

/** Version of the tables below, kept in `strata_meta`; bump it with a migration step. */
export const SCHEMA_VERSION = 2;

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
const SCHEMA = `
CREATE TABLE IF NOT EXISTS strata_meta (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS strata_spaces (
  space TEXT PRIMARY KEY,
  tbl TEXT NOT NULL,
  spec TEXT
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
}

const MAGIC = 'SQLite format 3\u0000';

/**
 * Catches damage SQLite would only notice later, when it reads the missing pages: a file
 * that is not a database, a cut-off header, or a file shorter than its header says.
 * The size check is skipped while a WAL or rollback journal exists, since an interrupted
 * checkpoint legitimately leaves the main file short until recovery.
 */
function checkHeader(path: string, driver: string): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return;
  }
  if (size === 0) return;
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
}

function restrict(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(file, 0o600);
    } catch {
      // -wal/-shm may not exist yet; the file may belong to another user.
    }
  }
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
  let created = false;
  if (!memory) {
    try {
      if (!options.readonly) {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        try {
          closeSync(openSync(path, 'wx', 0o600));
          created = true;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
      }
    } catch (error) {
      throw new StrataError('UNAVAILABLE', `cannot create the SQLite store ${path}: ${(error as Error).message}`, {
        op: 'open',
        driver: options.driver,
        cause: error,
        hint: 'check that the directory is writable by this user',
      });
    }
    try {
      checkHeader(path, options.driver);
    } catch (error) {
      if (error instanceof StrataError) throw error;
      throw new StrataError('UNAVAILABLE', `cannot read the SQLite store ${path}: ${(error as Error).message}`, {
        op: 'open',
        driver: options.driver,
        cause: error,
        hint: 'check that the path is a file readable by this user',
      });
    }
  }
  const deadline = Date.now() + options.busyTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly: options.readonly, fileMustExist: options.readonly, timeout: options.busyTimeoutMs });
      configure(db, options);
      migrate(db, options);
      if (created) restrict(path);
      return db;
    } catch (error) {
      db?.close();
      // Several processes opening a new file at once race to switch it to WAL and create the
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

function configure(db: Database.Database, options: OpenOptions): void {
  // A schema read from an untrusted file must not run application functions.
  db.pragma('trusted_schema = OFF');
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

function migrate(db: Database.Database, options: OpenOptions): void {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'strata_meta'").pluck().get() === 1;
  const version = hasMeta ? Number(db.prepare("SELECT value FROM strata_meta WHERE name = 'schema'").pluck().get() ?? 0) : 0;
  if (version > SCHEMA_VERSION) {
    throw new StrataError('UNSUPPORTED', `the SQLite store ${options.path} was written by a newer Strata (schema ${version})`, {
      op: 'open',
      driver: options.driver,
      hint: 'upgrade stratadb to open it',
    });
  }
  if (version === SCHEMA_VERSION) return;
  if (version > 0) {
    // Schema 1 kept every space in one shared table; there were no users to migrate.
    throw new StrataError('UNSUPPORTED', `the SQLite store ${options.path} uses an older Strata format (schema ${version})`, {
      op: 'open',
      driver: options.driver,
      hint: 'read its records with the stratadb version that wrote it and write them into a new store',
    });
  }
  if (options.readonly) {
    throw new StrataError('UNAVAILABLE', `the SQLite store ${options.path} has not been initialised`, {
      op: 'open',
      driver: options.driver,
      hint: 'open it once without readonly so Strata can create its tables',
    });
  }
  // Idempotent DDL in one write transaction, so two processes opening a new file at once agree.
  db.transaction(() => db.exec(SCHEMA)).immediate();
}
