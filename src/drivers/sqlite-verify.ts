import type Database from 'better-sqlite3';
import type { VerifyIssue, VerifyProgress, VerifyReport } from './driver.js';
import { ROW_CRC_FN, rowIntact, VOK_SQL } from './sqlite-checksum.js';
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
export function verifyTables(
  db: Database.Database,
  onProgress?: (progress: VerifyProgress) => void,
  checks: { integrity: boolean } = { integrity: true },
): VerifyReport {
  // One read transaction: every page read below sees the same state of the file.
  return reportOf(checkTables(db, { integrity: checks.integrity, ...(onProgress === undefined ? {} : { onProgress }) }));
}

/** The issues of SQLite's `integrity_check` messages (none for `['ok']`). */
export function integrityIssues(messages: readonly string[]): VerifyIssue[] {
  return messages.filter((message) => message !== 'ok').map((message) => ({ code: 'CORRUPT', message }));
}

/** Rows per page: the check of a page is one statement returning one row. */
export const PAGE_ROWS = 10_000;

const NUMERIC = (column: string): string => `typeof(${column}) IN ('integer', 'real')`;

/**
 * Whether a row is sound, in SQL, with the meaning of `rowIntact` plus valid JSON (a
 * checksum computed over bad JSON by a buggy or hostile writer would pass on its own). The
 * CRC runs in a JavaScript function called by SQLite, so only numbers come back per page:
 * reading every row into JavaScript took 2.7 s per million records, this 1.0-1.3 s. Every
 * argument costs (a 7-argument function took 0.9 s more), so the types of version and
 * created_at are checked in SQL. The connection must have `registerChecksumFunctions`.
 */
export const SOUND = `(${VOK_SQL} AND ${NUMERIC('version')} AND ${NUMERIC('created_at')} AND ${ROW_CRC_FN}(key, value, updated_at, expires_at) = crc AND json_valid(value))`;

interface TableCheck {
  checked: number;
  /** The damaged rows, as read with COLUMNS plus `json_valid(value)`, at most `limit` of them. */
  damaged: unknown[][];
  /** How many damaged rows there were in all. */
  damagedCount: number;
}

/**
 * The statement checking one page of a table: its last key, its row count and how many of
 * its rows are sound, for the rows after `?` (and up to the second `?` when `bounded`).
 */
export function pageCheckSql(table: string, bounded: boolean): string {
  return `SELECT max(key), count(*), total(sound) FROM (SELECT key, ${SOUND} AS sound FROM ${table} WHERE key > ?${
    bounded ? ' AND key <= ?' : ''
  } ORDER BY key LIMIT ${PAGE_ROWS})`;
}

const rowsOf = (db: Database.Database, table: string, where: string, ...params: unknown[]): unknown[][] =>
  db
    .prepare(`SELECT ${COLUMNS}, json_valid(value) FROM ${table} WHERE ${where} ORDER BY key`)
    .raw(true)
    .all(...params) as unknown[][];

function keepDamaged(out: TableCheck, rows: unknown[][], limit: number): void {
  for (const row of rows) {
    if (rowIntact(row) && row[8] === 1) continue;
    out.damagedCount++;
    if (out.damaged.length < limit) out.damaged.push(row);
  }
}

/**
 * Adds to `check` the damaged rows of pages found elsewhere (`(after, last]` key ranges a
 * worker thread reported unsound), read again here row by row.
 */
export function recheckPages(
  db: Database.Database,
  table: string,
  check: TableCheck,
  pages: ReadonlyArray<readonly [after: unknown, last: unknown]>,
): void {
  for (const [after, last] of pages)
    keepDamaged(check, rowsOf(db, table, 'key > ? AND key <= ?', after, last), MAX_ISSUES_PER_TABLE);
}

/**
 * Checks the rows of `table` page by page in key order: first the rows whose key sorts
 * before any key Strata writes (damaged: NULL, a number or ''), then the rest (blob keys sort
 * after text, so they come too), or only those up to `upTo` when the rows after it are
 * checked elsewhere. A page answers with its last key, its row count and how many of its
 * rows are sound; only a page holding damage is read again, row by row.
 */
function checkTable(db: Database.Database, table: string, onPage: (rows: number) => void, upTo: string | undefined): TableCheck {
  const out: TableCheck = { checked: 0, damaged: [], damagedCount: 0 };
  const low = rowsOf(db, table, `key IS NULL OR key <= ''`);
  out.checked += low.length;
  keepDamaged(out, low, MAX_ISSUES_PER_TABLE);
  const page = db.prepare(pageCheckSql(table, upTo !== undefined)).raw(true);
  let after: unknown = '';
  for (;;) {
    const [last, rows, sound] = (upTo === undefined ? page.get(after) : page.get(after, upTo)) as [unknown, number, number];
    out.checked += rows;
    if (sound !== rows) recheckPages(db, table, out, [[after, last]]);
    onPage(rows);
    if (rows < PAGE_ROWS) return out;
    after = last;
  }
}

/** What a verify found before it is reported: the file's own issues and each table's check. */
export interface TableChecks {
  issues: VerifyIssue[];
  /** By table, in the order checked: its space (undefined when the registry does not list it) and its check. */
  tables: Map<string, { space: string | undefined; check: TableCheck }>;
}

/**
 * The checks of `verifyTables` without the report, in one read transaction. A table listed
 * in `upTo` is checked only up to that key: the caller checks the rest (see recheckPages).
 */
export function checkTables(
  db: Database.Database,
  options: { integrity: boolean; upTo?: ReadonlyMap<string, string>; onProgress?: (progress: VerifyProgress) => void },
): TableChecks {
  return db.transaction(() => collect(db, options.onProgress, options.integrity, options.upTo ?? new Map()))();
}

function collect(
  db: Database.Database,
  onProgress: ((progress: VerifyProgress) => void) | undefined,
  integrity: boolean,
  upTo: ReadonlyMap<string, string>,
): TableChecks {
  const issues: VerifyIssue[] = integrity ? integrityIssues(db.prepare('PRAGMA integrity_check').pluck().all() as string[]) : [];
  // Over a b-tree SQLite finds damaged, reading records may fail or silently miss rows: its
  // verdict is the report, with no count of records that could not be trusted.
  if (issues.length > 0) return { issues, tables: new Map() };
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
  const out: TableChecks = { issues, tables: new Map() };
  for (const table of tables) {
    out.tables.set(table, { space: registered.get(table), check: checkTable(db, table, onPage, upTo.get(table)) });
  }
  return out;
}

/** Adds `checked` rows counted elsewhere to a table's check (the part after its `upTo`). */
export function addChecked(checks: TableChecks, table: string, checked: number): TableCheck {
  const entry = checks.tables.get(table)!;
  entry.check.checked += checked;
  return entry.check;
}

/** The report of `checks`: its issues, then each damaged record (at most 1,000 per table). */
export function reportOf(checks: TableChecks): VerifyReport {
  const issues = [...checks.issues];
  let checked = 0;
  for (const [table, { space, check }] of checks.tables) {
    if (space === undefined) {
      issues.push({ code: 'CORRUPT', message: `the table ${table} holds records of a space missing from the registry` });
    }
    checked += check.checked;
    for (const row of check.damaged) {
      issues.push({
        code: 'CORRUPT',
        message: rowIntact(row) ? 'the stored value is not valid JSON' : 'the stored record fails its checksum',
        ...(space === undefined ? {} : { space }),
        key: String(row[0]),
      });
    }
    const damaged = check.damagedCount;
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
