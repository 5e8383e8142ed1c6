import type Database from 'better-sqlite3';
import type { Driver } from '../drivers/driver.js';
import { sqliteConnection } from '../drivers/sqlite.js';
import { StrataError } from '../errors.js';
import type { SqlRow, SqlTag } from './migrate-types.js';

/**
 * The better-sqlite3 connection under a store's driver stack (quota, encryption...), or
 * `null` when the backend is not SQLite. SQL migrations run on it, on the store's own file.
 */
export function sqliteOf(driver: Driver): Database.Database | null {
  for (let at: Driver | undefined = driver; at !== undefined; at = (at as { inner?: Driver }).inner) {
    try {
      return sqliteConnection(at);
    } catch (error) {
      if (StrataError.is(error, 'CLOSED')) throw error;
    }
  }
  return null;
}

export function sqlUnsupported(driver: string, migration: string): StrataError {
  return new StrataError('UNSUPPORTED', `migration "${migration}" uses SQL, and the ${driver} backend has no SQL`, {
    op: 'store.migrate',
    driver,
    hint: 'SQL migrations (text up/down, .sql files, m.sql) run on sqlite: stores only; write this one as async (m) => { ... } with m.kv() / m.collection()',
    details: { migration },
  });
}

/** `m.sql`: values are bound parameters, never text spliced into the statement. */
export function sqlTag(conn: Database.Database | null, driver: string, migration: string): SqlTag {
  return (strings, ...values) => {
    if (conn === null) throw sqlUnsupported(driver, migration);
    if (!Array.isArray(strings) || !('raw' in strings)) {
      throw new StrataError('BAD_INPUT', 'm.sql is a tagged template: write m.sql`UPDATE t SET a = ${value}`', { op: 'm.sql' });
    }
    const text = strings.reduce((out, part, i) => out + (i === 0 ? '' : '?') + part, '');
    const stmt = conn.prepare(text);
    const params = values.map((v) => (typeof v === 'boolean' ? Number(v) : v));
    if (stmt.reader) return stmt.all(...params) as SqlRow[];
    return { changes: stmt.run(...params).changes };
  };
}
