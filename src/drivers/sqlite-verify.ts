import type Database from 'better-sqlite3';
import type { VerifyIssue, VerifyProgress, VerifyReport } from './driver.js';
import { rowIntact } from './sqlite-checksum.js';
import { COLUMNS, registryRowIntact } from './sqlite-spaces.js';

/** Issues listed per table at most; the report says how many more there were. */
const MAX_ISSUES_PER_TABLE = 1000;

/**
 * Checks everything the file holds, not only what the registry lists: SQLite's own
 * `integrity_check` (b-trees, indexes against their tables), every `strata_spaces` row
 * against its checksum, every `strata_s_*` table in `sqlite_schema` (one missing from the
 * registry is an issue, as is a registry row whose table is gone), and every record of every
 * table against its checksum. A damaged registry row can thus no longer hide a space.
 */
export function verifyTables(db: Database.Database, onProgress?: (progress: VerifyProgress) => void): VerifyReport {
  // One read transaction: every page read below sees the same state of the file.
  return db.transaction(() => verifyAll(db, onProgress))();
}

/** Rows per read: pages of `.all()` cost a third less than one `.iterate()` over the table. */
const PAGE_ROWS = 10_000;

/**
 * Every row of `table`: first those whose key sorts before any key Strata writes (damaged: NULL, a
 * number or ''), then the rest in key order, page by page (blob keys sort after text, so they come too).
 */
function* tableRows(db: Database.Database, table: string, onPage: (rows: number) => void): Generator<unknown[]> {
  yield* db
    .prepare(`SELECT ${COLUMNS}, json_valid(value) FROM ${table} WHERE key IS NULL OR key <= ''`)
    .raw(true)
    .all() as unknown[][];
  const page = db
    .prepare(`SELECT ${COLUMNS}, json_valid(value) FROM ${table} WHERE key > ? ORDER BY key LIMIT ${PAGE_ROWS}`)
    .raw(true);
  let after: unknown = '';
  for (;;) {
    const rows = page.all(after) as unknown[][];
    yield* rows;
    onPage(rows.length);
    if (rows.length < PAGE_ROWS) return;
    after = rows[rows.length - 1]![0];
  }
}

function verifyAll(db: Database.Database, onProgress?: (progress: VerifyProgress) => void): VerifyReport {
  const issues: VerifyIssue[] = [];
  let checked = 0;
  for (const [message] of db.prepare('PRAGMA integrity_check').raw(true).all() as Array<[string]>) {
    if (message !== 'ok') issues.push({ code: 'CORRUPT', message });
  }
  const registered = new Map<string, string>();
  const registry = db.prepare('SELECT space, tbl, spec, crc FROM strata_spaces').raw(true).all() as unknown[][];
  for (const row of registry) {
    if (!registryRowIntact(row)) {
      issues.push({ code: 'CORRUPT', message: 'a registry row (strata_spaces) fails its checksum', space: String(row[0]) });
      continue;
    }
    registered.set(row[1] as string, row[0] as string);
  }
  const tables = new Set(
    db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name GLOB 'strata_s_*'").pluck().all() as string[],
  );
  for (const [table, space] of registered) {
    if (!tables.has(table)) issues.push({ code: 'CORRUPT', message: `the table ${table} of this space is missing`, space });
  }
  // The total is counted first only for a listener: a count is another pass over each table.
  const total =
    onProgress === undefined
      ? 0
      : [...tables].reduce((n, t) => n + (db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number), 0);
  let read = 0;
  const onPage = (rows: number): void => {
    read += rows;
    onProgress?.({ phase: 'storage', checked: Math.min(read, total), total });
  };
  for (const table of tables) {
    const space = registered.get(table);
    if (space === undefined) {
      issues.push({ code: 'CORRUPT', message: `the table ${table} holds records of a space missing from the registry` });
    }
    let damaged = 0;
    for (const row of tableRows(db, table, onPage)) {
      checked++;
      const intact = rowIntact(row);
      // A checksum computed over bad JSON (a buggy or hostile writer) would pass: SQLite checks the JSON too.
      if (intact && row[8] === 1) continue;
      if (++damaged > MAX_ISSUES_PER_TABLE) continue;
      issues.push({
        code: 'CORRUPT',
        message: intact ? 'the stored value is not valid JSON' : 'the stored record fails its checksum',
        ...(space === undefined ? {} : { space }),
        key: String(row[0]),
      });
    }
    if (damaged > MAX_ISSUES_PER_TABLE) {
      issues.push({
        code: 'CORRUPT',
        message: `${damaged - MAX_ISSUES_PER_TABLE} more damaged records in ${table}`,
        ...(space === undefined ? {} : { space }),
      });
    }
  }
  return { ok: issues.length === 0, checked, issues };
}
