// Shared by the migration tests: stores on every embedded backend, and a raw dump of a store
// (every record of every space with its version and times, plus SQLite user tables) to
// compare a store byte for byte before and after a run.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { strata } from '../reliability/helpers.js';
import type { Store } from '../../src/index.js';

export const BACKENDS = ['sqlite', 'file', 'memory'] as const;
export type Backend = (typeof BACKENDS)[number];

export function urlFor(backend: Backend, dir: string): string {
  if (backend === 'sqlite') return `sqlite:${join(dir, 'store.db')}`;
  if (backend === 'file') return `file:${join(dir, 'store')}`;
  return 'memory:';
}

export const open = (url: string): Promise<Store> => strata.openStore({ url, sweepInterval: false });

/** The lease record comes and goes with every run: it is the one thing a run may leave changed. */
const LEASE_SPACE = 'meta.migrations-lock';

/**
 * Every non-empty space's records (key, value, version, timestamps, expiry) read through
 * the driver, in key order. Empty spaces are left out: a space left empty equals one absent.
 */
export async function dumpSpaces(store: Store): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const now = Date.now();
  for (const space of (await store.driver.spaces()).sort()) {
    if (space === LEASE_SPACE) continue;
    const records = await store.driver.scan(space, {}, now);
    if (records.length > 0) out[space] = records.map(({ stamp: _stamp, ...rest }) => rest);
  }
  return out;
}

/**
 * The SQLite file itself: every row of every record table (stored checksums included) of the
 * registered spaces, and every user table with its schema. Opened read-only beside the store.
 */
export function dumpSqlite(path: string): Record<string, unknown> {
  const db = new Database(path, { readonly: true });
  try {
    const out: Record<string, unknown> = {};
    const spaces = db.prepare('SELECT space, tbl FROM strata_spaces ORDER BY space').all() as Array<{
      space: string;
      tbl: string;
    }>;
    for (const { space, tbl } of spaces) {
      if (space === LEASE_SPACE) continue;
      const rows = db.prepare(`SELECT * FROM ${tbl} ORDER BY key`).raw(true).all();
      if (rows.length > 0) out[space] = rows;
    }
    const user = db
      .prepare(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT GLOB 'strata_*' AND name NOT GLOB 'sqlite_*' ORDER BY name",
      )
      .all() as Array<{ name: string; sql: string }>;
    for (const { name, sql } of user)
      out[`table ${name}`] = { sql, rows: db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).raw(true).all() };
    return out;
  } finally {
    db.close();
  }
}

/** Both dumps where the backend has a file, as one JSON text to compare with `toBe`. */
export async function dump(store: Store, backend: Backend, dir: string): Promise<string> {
  const spaces = await dumpSpaces(store);
  const file = backend === 'sqlite' ? dumpSqlite(join(dir, 'store.db')) : null;
  return JSON.stringify({ spaces, file });
}
