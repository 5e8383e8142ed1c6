import { StrataError } from '../errors.js';

/**
 * SQLite's answers for a file or directory this process may not write. SQLITE_READONLY_RECOVERY
 * (another connection is recovering the WAL) and _DBMOVED are not among them: those pass.
 */
const PERMISSION_CODES = new Set([
  'SQLITE_READONLY',
  'SQLITE_READONLY_DIRECTORY',
  'SQLITE_READONLY_CANTINIT',
  'SQLITE_READONLY_CANTLOCK',
  'SQLITE_READONLY_ROLLBACK',
]);

/** What to do about a store file that cannot be opened; `strata restore` needs no store at the path. */
const RECOVER =
  'nothing was changed. To go back to a backup, move the file (with its -wal and -shm) aside and run `strata restore <backup id>` (--dir <dir> for backups kept elsewhere): it restores into a new store at this path';

/**
 * Maps a better-sqlite3 / SQLite error to a StrataError carrying `driver`, `cause` and the
 * SQLite code. `op` is set only for `open`: for driver methods the public layer (kv.ts,
 * collection.ts) fills in the user's operation (`kv.set`), and the driver method goes in
 * `details.driverOp`.
 */
export function sqliteError(error: unknown, driverOp: string, driver: string, location?: string): StrataError {
  if (error instanceof StrataError) return error;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : '';
  const message = error instanceof Error ? error.message : String(error);
  const where = location ? ` (${location})` : '';
  const op = driverOp === 'open' ? 'open' : undefined;
  const options = { op, driver, cause: error, details: { sqliteCode: code, location, driverOp } };
  // json_extract and friends over a damaged value fail with "malformed JSON" (SQLITE_ERROR):
  // Strata only ever stores valid JSON, so that is damage too.
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT') || /malformed JSON|unsupported file format/i.test(message)) {
    return new StrataError('CORRUPT', `the SQLite store${where} is damaged or not a database: ${message}`, {
      ...options,
      hint: RECOVER,
    });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StrataError('LOCKED', `the SQLite store${where} is locked by another connection: ${message}`, {
      ...options,
      hint: 'another process holds a long write transaction; retry, or wait longer with ?busyTimeout= in the store URL (e.g. ?busyTimeout=30s)',
    });
  }
  if (PERMISSION_CODES.has(code)) {
    // Retrying never helps (exit 6 tells scripts to): BAD_INPUT, the location is the caller's to fix.
    return new StrataError('BAD_INPUT', `the SQLite store${where} cannot be written by this process: ${message}`, {
      ...options,
      hint: 'check the permissions of the database file and its directory (this user must be able to write both)',
    });
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new StrataError('UNAVAILABLE', `the SQLite store${where} cannot be written: ${message}`, {
      ...options,
      hint: 'check the permissions of the database file and its directory',
    });
  }
  if (code === 'SQLITE_FULL') {
    return new StrataError('QUOTA_EXCEEDED', `the SQLite store${where} is full: ${message}`, {
      ...options,
      hint: 'free disk space, or delete records you no longer need',
    });
  }
  if (code === 'SQLITE_TOOBIG') {
    return new StrataError('BAD_INPUT', `a value is too large for SQLite: ${message}`, {
      ...options,
      hint: 'keep large objects in files of their own and store their paths',
    });
  }
  if (code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH')) {
    return new StrataError('BAD_INPUT', `this process may not open the SQLite store${where}: ${message}`, {
      ...options,
      hint: 'check that the directory exists and is writable by this user',
    });
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new StrataError('UNAVAILABLE', `cannot open the SQLite store${where}: ${message}`, {
      ...options,
      hint: 'check that the directory exists and is writable by this user',
    });
  }
  return new StrataError('UNAVAILABLE', `SQLite ${driverOp} failed${where}: ${message}`, {
    ...options,
    hint: 'SQLite reported an unexpected error; see `cause`',
  });
}

/**
 * `error` as sqliteError maps it when SQLite raised it (a `SQLITE_*` code: a damaged page is
 * CORRUPT, never UNAVAILABLE), else unchanged: an I/O error of a backup target stays its own.
 */
export function fromSqlite(error: unknown, driverOp: string, driver: string, location?: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? sqliteError(error, driverOp, driver, location) : error;
}

/** The store file's own damage check, for files SQLite would open without complaint. */
export function corruptFile(location: string, reason: string, op: string, driver: string): StrataError {
  return new StrataError('CORRUPT', `the SQLite store ${location} is damaged: ${reason}`, {
    op,
    driver,
    hint: RECOVER,
    details: { location },
  });
}
