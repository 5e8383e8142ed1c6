import { crc32 } from 'node:zlib';
import type Database from 'better-sqlite3';
import { StrataError } from '../errors.js';
import type { StoredRecord } from './driver.js';

/**
 * Every stored record carries a CRC-32 (`crc` column) over everything a read returns, so a
 * damaged byte in the file is reported as CORRUPT instead of being read back as other data.
 * The checked text is `key NUL "version created updated expires value"`, numbers in their
 * shortest decimal form and a missing expiry as ''. `get` selects that text from SQL in one
 * column (see PACKED in sqlite-spaces.ts), so the check is one crc32 call over a string the
 * read builds anyway; SQLite renders integers exactly like JS, and a REAL timestamp (which
 * SQLite renders with up to 17 digits) falls back to the JS form of the parsed numbers.
 */

/** SQL function computing the checksum of a row being written (registered on each connection). */
export const CRC_FN = 'strata_crc';
/** SQL function that throws CORRUPT when an old row a write reads fails its checksum. */
export const INTACT_FN = 'strata_intact';

export type CheckedRow = [
  key: string,
  value: string,
  version: number,
  createdAt: number,
  updatedAt: number,
  expiresAt: number | null,
  crc: number,
];

export function recordCrc(
  key: string,
  value: string,
  version: number,
  createdAt: number,
  updatedAt: number,
  expiresAt: number | null,
): number {
  return crc32(`${key}\u0000${version} ${createdAt} ${updatedAt} ${expiresAt ?? ''} ${value}`);
}

/** Registry rows (`strata_spaces`) are checked the same way: a damaged row must not hide or rename a space. */
export function registryCrc(space: string, table: string, spec: string | null): number {
  return crc32(`${space}\u0000${table}\u0000${spec ?? '\u0001'}`);
}

export function corruptRecord(space: string, key: string, driver: string, reason = 'fails its checksum'): StrataError {
  return new StrataError('CORRUPT', `the stored record "${key}" of space "${space}" is damaged: it ${reason}`, {
    driver,
    hint: 'restore the store from a backup, or delete the damaged entry and write it again; `strata verify` lists every damaged record',
    details: { space, key },
  });
}

export function corruptRegistry(space: string, driver: string): StrataError {
  return new StrataError('CORRUPT', `the registry row of space "${space}" is damaged: it fails its checksum`, {
    driver,
    hint: 'restore the store from a backup; `strata verify` lists what is damaged',
    details: { space },
  });
}

/** Whether a row read with all seven columns is intact (values as better-sqlite3 returns them). */
export function rowIntact(row: readonly unknown[]): boolean {
  const [key, value, version, createdAt, updatedAt, expiresAt, crc] = row;
  return (
    typeof key === 'string' &&
    typeof value === 'string' &&
    typeof version === 'number' &&
    typeof createdAt === 'number' &&
    typeof updatedAt === 'number' &&
    (expiresAt === null || typeof expiresAt === 'number') &&
    recordCrc(key, value, version, createdAt, updatedAt, expiresAt) === crc
  );
}

/** The record of a checked row; throws CORRUPT when it is damaged. */
export function checkedRecord(row: CheckedRow, space: string, driver: string): StoredRecord {
  if (!rowIntact(row)) throw corruptRecord(space, String(row[0]), driver);
  return { key: row[0], value: row[1], version: row[2], createdAt: row[3], updatedAt: row[4], expiresAt: row[5] };
}

/**
 * Unpacks `get`'s one-column answer "crc version created updated expires value", checking
 * it; `null` when the record has expired. Throws CORRUPT when the record is damaged.
 */
export function unpackChecked(packed: string, key: string, now: number, space: string, driver: string): StoredRecord | null {
  const z = packed.indexOf(' ');
  const a = packed.indexOf(' ', z + 1);
  const b = packed.indexOf(' ', a + 1);
  const c = packed.indexOf(' ', b + 1);
  const d = packed.indexOf(' ', c + 1);
  if (d < 0) throw corruptRecord(space, key, driver);
  const expiresAt = d === c + 1 ? null : Number(packed.slice(c + 1, d));
  const record: StoredRecord = {
    key,
    value: packed.slice(d + 1),
    version: Number(packed.slice(z + 1, a)),
    createdAt: Number(packed.slice(a + 1, b)),
    updatedAt: Number(packed.slice(b + 1, c)),
    expiresAt,
  };
  const crc = Number(packed.slice(0, z));
  if (crc32(`${key}\u0000${packed.slice(z + 1)}`) !== crc) {
    // Not the canonical text: either REAL numbers (rendered differently by SQLite) or damage.
    const { value, version, createdAt, updatedAt } = record;
    if (z === 0 || recordCrc(key, value, version, createdAt, updatedAt, expiresAt) !== crc) {
      throw corruptRecord(space, key, driver);
    }
  }
  if (expiresAt !== null && expiresAt <= now) return null;
  return record;
}

/**
 * Registers the checksum functions on a connection. `strata_intact(space, crc, key, value,
 * version, created, updated, expires)` returns 1 or throws CORRUPT: the upsert calls it on
 * the row it overwrites, so a damaged old version is never carried forward under a fresh
 * checksum.
 */
export function registerChecksumFunctions(db: Database.Database, driver: string): void {
  db.function(
    CRC_FN,
    { directOnly: true, deterministic: true },
    (key: unknown, value: unknown, version: unknown, createdAt: unknown, updatedAt: unknown, expiresAt: unknown) =>
      crc32(
        `${String(key)}\u0000${String(version)} ${String(createdAt)} ${String(updatedAt)} ${expiresAt === null ? '' : String(expiresAt)} ${String(value)}`,
      ),
  );
  db.function(
    INTACT_FN,
    { directOnly: true, deterministic: true, varargs: true },
    (space: unknown, crc: unknown, ...row: unknown[]) => {
      if (row.length !== 6 || !rowIntact([...row, crc])) throw corruptRecord(String(space), String(row[0]), driver);
      return 1;
    },
  );
}
