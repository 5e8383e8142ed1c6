import type Database from 'better-sqlite3';
import type { VerifyIssue, VerifyReport } from './driver.js';
import { rowIntact } from './sqlite-checksum.js';
import { COLUMNS, registryRowIntact } from './sqlite-spaces.js';

/** Issues listed per table at most; the report says how many more there were. */
const MAX_ISSUES_PER_TABLE = 1000;

function validJson(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks everything the file holds, not only what the registry lists: SQLite's own
 * `integrity_check` (b-trees, indexes against their tables), every `strata_spaces` row
 * against its checksum, every `strata_s_*` table in `sqlite_schema` (one missing from the
 * registry is an issue, as is a registry row whose table is gone), and every record of every
 * table against its checksum. A damaged registry row can thus no longer hide a space.
 */
export function verifyTables(db: Database.Database): VerifyReport {
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
  for (const table of tables) {
    const space = registered.get(table);
    if (space === undefined) {
      issues.push({ code: 'CORRUPT', message: `the table ${table} holds records of a space missing from the registry` });
    }
    let damaged = 0;
    const rows = db.prepare(`SELECT ${COLUMNS}, json_valid(value) FROM ${table}`).raw(true);
    for (const row of rows.iterate() as IterableIterator<unknown[]>) {
      checked++;
      const intact = rowIntact(row.slice(0, 8));
      if (intact && (row[8] === 1 || validJson(row[1]))) continue;
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
