import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { StrataError } from '../errors.js';
import { parseJson } from '../codec/json.js';
import { matches } from '../query/match.js';
import { compileAfter, compileFilter, compileOrder, prefixUpperBound, sqliteDialect } from '../query/sql.js';
import type {
  BatchResult,
  ChangeEvent,
  Driver,
  DriverStats,
  ScanQuery,
  SpaceSpec,
  StoredRecord,
  VerifyIssue,
  VerifyReport,
  WriteOp,
} from './driver.js';
import { ChangeHub, closedError } from './base.js';
import { sqliteError } from './sqlite-errors.js';
import { openDatabase } from './sqlite-schema.js';
import { RemoteWatcher } from './sqlite-watch.js';

export interface SqliteDriverOptions {
  /** Database file, created with its directory when missing; `':memory:'` for a private in-memory store. */
  path: string;
  /**
   * `'full'`: an acknowledged write survives power loss (`synchronous=FULL`).
   * `'normal'`: it survives a process crash; a power cut may lose the last commits (`synchronous=NORMAL`).
   * @default 'full'
   */
  durability?: 'full' | 'normal';
  /** How long a write waits for another connection's write lock before failing with LOCKED. @default 10000 */
  busyTimeoutMs?: number;
  /** Opens the file read-only: writes reject with UNSUPPORTED. @default false */
  readonly?: boolean;
  /** Name shown in stats and errors. @default 'sqlite' */
  name?: string;
}

type Row = [key: string, value: string, version: number, createdAt: number, updatedAt: number, expiresAt: number | null];
type Stmt = Database.Statement<unknown[], unknown[]>;

const COLUMNS = 'key, value, version, created_at, updated_at, expires_at';
const KEY_COLUMNS = "key, '' AS value, version, created_at, updated_at, expires_at";
const MAX_CACHED_STATEMENTS = 200;
/** The change log keeps at most this many rows, none older than CHANGES_MAX_AGE_MS. */
const CHANGES_KEEP = 10_000;
const CHANGES_MAX_AGE_MS = 60_000;
const TRIM_EVERY = 1_000;

function toRecord(row: Row): StoredRecord {
  return { key: row[0], value: row[1], version: row[2], createdAt: row[3], updatedAt: row[4], expiresAt: row[5] };
}

/** Index name for a space's field: a hash, so no user text reaches the DDL as an identifier. */
function indexName(space: string, path: string): string {
  return `strata_ix_${createHash('sha256').update(`${space}\u0000${path}`).digest('hex').slice(0, 24)}`;
}

interface Internals {
  db(): Database.Database;
  buildScan(space: string, query: ScanQuery, now: number, mode: 'rows' | 'count'): { sql: string; params: unknown[] };
}
const internals = new WeakMap<Driver, Internals>();

/** The SQLite store: one file, WAL mode, every write an IMMEDIATE transaction. */
export function sqliteDriver(options: SqliteDriverOptions): Driver {
  const name = options.name ?? 'sqlite';
  const memory = options.path === ':memory:';
  const location = memory ? options.path : resolve(options.path);
  const readonly = options.readonly ?? false;
  let db: Database.Database | null = openDatabase({
    path: options.path,
    durability: options.durability ?? 'full',
    busyTimeoutMs: options.busyTimeoutMs ?? 10_000,
    readonly,
    driver: name,
  });
  const conn = db;
  const fail = (error: unknown, op: string): StrataError => sqliteError(error, op, name, location);

  let s: ReturnType<typeof prepare>;
  try {
    s = prepare(conn);
  } catch (error) {
    conn.close();
    throw fail(error, 'open');
  }

  const writer = randomBytes(9).toString('base64url');
  const hub = new ChangeHub();
  const remote = memory ? null : new RemoteWatcher(conn, writer, hub);
  const declared = new Map<string, Set<string>>();
  const statements = new Map<string, Stmt>();
  let trimmedAt = 0;

  const open = (): Database.Database => {
    if (db === null) throw closedError(name);
    return db;
  };
  const writable = (op: string): void => {
    open();
    if (readonly) {
      throw new StrataError('UNSUPPORTED', `${op}: the SQLite store ${location} is open read-only`, {
        op,
        driver: name,
        hint: 'open it without `readonly` to write',
      });
    }
  };

  function cached(sql: string): Stmt {
    let stmt = statements.get(sql);
    if (stmt) {
      statements.delete(sql);
    } else {
      stmt = conn.prepare(sql).raw(true) as Stmt;
      if (statements.size >= MAX_CACHED_STATEMENTS) statements.delete(statements.keys().next().value!);
    }
    statements.set(sql, stmt);
    return stmt;
  }

  function buildScan(space: string, query: ScanQuery, now: number, mode: 'rows' | 'count') {
    const filter = compileFilter(query.filter, sqliteDialect);
    const params: unknown[] = [space];
    let where = 'space = ?';
    if (query.prefix) {
      where += ' AND key >= ?';
      params.push(query.prefix);
      const upper = prefixUpperBound(query.prefix);
      if (upper !== null) {
        where += ' AND key < ?';
        params.push(upper);
      }
    }
    where += ' AND (expires_at IS NULL OR expires_at > ?)';
    params.push(now);
    if (filter.sql !== '1') {
      where += ` AND ${filter.sql}`;
      params.push(...filter.params);
    }
    if (mode === 'count') {
      return { sql: `SELECT ${filter.exact ? 'count(*)' : 'value'} FROM strata_records WHERE ${where}`, params, exact: filter.exact };
    }
    const sort = query.sort ?? [];
    if (query.after) {
      const after = compileAfter(query.after, sort, 'key', sqliteDialect);
      where += ` AND ${after.sql}`;
      params.push(...after.params);
    }
    const columns = query.keysOnly && filter.exact ? KEY_COLUMNS : COLUMNS;
    let sql = `SELECT ${columns} FROM strata_records WHERE ${where} ORDER BY ${compileOrder(sort, 'key', sqliteDialect)}`;
    if (filter.exact && (query.limit !== undefined || query.offset)) {
      sql += ' LIMIT ? OFFSET ?';
      params.push(query.limit ?? -1, query.offset ?? 0);
    }
    return { sql, params, exact: filter.exact };
  }

  function scan(space: string, query: ScanQuery, now: number): StoredRecord[] {
    const built = buildScan(space, query, now, 'rows');
    const stmt = cached(built.sql);
    if (built.exact) return (stmt.all(...built.params) as Row[]).map(toRecord);
    // Object/array equality is checked here; offset and limit apply to what passes.
    const out: StoredRecord[] = [];
    let skip = query.offset ?? 0;
    const limit = query.limit ?? Infinity;
    if (limit <= 0) return out;
    for (const row of stmt.iterate(...built.params) as IterableIterator<Row>) {
      if (!matches(query.filter!, parseJson(row[1]))) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      out.push(toRecord(row));
      if (out.length >= limit) break;
    }
    if (query.keysOnly) for (const r of out) r.value = '';
    return out;
  }

  function count(space: string, query: Pick<ScanQuery, 'prefix' | 'filter'>, now: number): number {
    const built = buildScan(space, query, now, 'count');
    const stmt = cached(built.sql);
    if (built.exact) return (stmt.get(...built.params) as [number])[0];
    let n = 0;
    for (const row of stmt.iterate(...built.params) as IterableIterator<[string]>) {
      if (matches(query.filter!, parseJson(row[0]))) n++;
    }
    return n;
  }

  function conflict(index: number, op: WriteOp, actual: number): StrataError {
    return new StrataError('CONFLICT', `version conflict on "${op.key}": expected ${op.expect}, found ${actual}`, {
      op: 'batch',
      driver: name,
      hint: 'read the entry again and retry with its current version',
      details: { index, space: op.space, key: op.key, expected: op.expect, actual },
    });
  }

  const live = (expiresAt: number | null, now: number): boolean => expiresAt === null || expiresAt > now;

  function logChange(op: WriteOp, type: 'put' | 'delete', version: number | null, now: number): number {
    return Number(s.logChange.run(writer, op.space, op.key, type, version, now).lastInsertRowid);
  }

  // Every op runs against the live row inside one IMMEDIATE transaction; a thrown CONFLICT
  // rolls the whole batch back. The upsert returns the new version, and the previous live
  // version is always new - 1 (1 when the key was absent or expired), so a put needs no read.
  const runBatch = conn.transaction((ops: readonly WriteOp[], now: number, events: ChangeEvent[] | null) => {
    const results: BatchResult[] = [];
    let seq = 0;
    for (let index = 0; index < ops.length; index++) {
      const op = ops[index]!;
      if (op.type === 'put') {
        const row = s.upsert.get(op.space, op.key, op.value, now, now, op.expiresAt) as [number, number];
        const version = row[0];
        if (op.expect !== undefined && version - 1 !== op.expect) throw conflict(index, op, version - 1);
        results.push({ key: op.key, value: op.value, version, createdAt: row[1], updatedAt: now, expiresAt: op.expiresAt });
        seq = logChange(op, 'put', version, now);
        events?.push({ space: op.space, key: op.key, type: 'put', version, value: op.value, origin: 'local' });
      } else if (op.type === 'delete') {
        const row = s.remove.get(op.space, op.key) as Row | undefined;
        const existing = row !== undefined && live(row[5], now) ? toRecord(row) : null;
        if (op.expect !== undefined && (existing?.version ?? 0) !== op.expect) {
          throw conflict(index, op, existing?.version ?? 0);
        }
        results.push(existing);
        if (row !== undefined) {
          seq = logChange(op, 'delete', null, now);
          events?.push({ space: op.space, key: op.key, type: 'delete', version: null, origin: 'local' });
        }
      } else {
        const row = s.version.get(op.space, op.key) as [number, number | null] | undefined;
        const actual = row !== undefined && live(row[1], now) ? row[0] : 0;
        if (actual !== op.expect) throw conflict(index, op, actual);
        results.push(null);
      }
    }
    if (seq - trimmedAt >= TRIM_EVERY) {
      s.trimChanges.run(seq - CHANGES_KEEP + 1, now - CHANGES_MAX_AGE_MS, seq);
      trimmedAt = seq;
    }
    return results;
  });

  function ensureSpace(space: string, spec: SpaceSpec): void {
    const known = declared.get(space);
    const wanted = [...new Set(spec.indexes ?? [])];
    if (known && wanted.every((p) => known.has(p))) return;
    // Validates every path (and builds its SQL) before anything is written.
    const fields = wanted.map((path) => ({ path, sql: sqliteDialect.field(path.split('.')) }));
    if (readonly) return;
    conn
      .transaction(() => {
        const stored = s.getSpace.get(space) as [string] | undefined;
        const all = new Set<string>(stored ? ((parseJson(stored[0]) as { indexes?: string[] }).indexes ?? []) : []);
        const before = all.size;
        for (const f of fields) all.add(f.path);
        if (!stored || all.size !== before) s.putSpace.run(space, JSON.stringify({ indexes: [...all].sort() }));
        for (const f of fields) {
          conn.exec(`CREATE INDEX IF NOT EXISTS ${indexName(space, f.path)} ON strata_records (space, ${f.sql})`);
        }
        declared.set(space, all);
      })
      .immediate();
  }

  function stats(): DriverStats {
    const rows = s.spaceStats.all() as Array<[string, number, number]>;
    const out = new Map<string, { space: string; records: number; bytes: number }>();
    for (const [space] of s.declaredSpaces.all() as Array<[string]>) out.set(space, { space, records: 0, bytes: 0 });
    for (const [space, records, bytes] of rows) out.set(space, { space, records, bytes });
    let storageBytes = 0;
    if (memory) storageBytes = (s.pageCount.get() as [number])[0] * (s.pageSize.get() as [number])[0];
    else {
      for (const file of [location, `${location}-wal`]) {
        try {
          storageBytes += statSync(file).size;
        } catch {
          // no WAL file right after a checkpoint
        }
      }
    }
    return { driver: name, location, storageBytes, spaces: [...out.values()].sort((a, b) => (a.space < b.space ? -1 : 1)) };
  }

  function verify(): VerifyReport {
    const issues: VerifyIssue[] = [];
    let checked = 0;
    try {
      for (const [message] of conn.prepare('PRAGMA integrity_check').raw(true).all() as Array<[string]>) {
        if (message !== 'ok') issues.push({ code: 'CORRUPT', message });
      }
      checked = (s.countAll.get() as [number])[0];
      for (const [space, key] of s.invalidJson.all() as Array<[string, string]>) {
        issues.push({ code: 'CORRUPT', message: 'the stored value is not valid JSON', space, key });
      }
    } catch (error) {
      const mapped = fail(error, 'verify');
      if (mapped.code !== 'CORRUPT') throw mapped;
      issues.push({ code: 'CORRUPT', message: mapped.message });
    }
    return { ok: issues.length === 0, checked, issues };
  }

  const driver: Driver = {
    name,
    capabilities: { persistent: !memory, crossProcess: !memory, watchRemote: !memory, nativeIndexes: true },
    async ensureSpace(space, spec) {
      open();
      try {
        ensureSpace(space, spec);
      } catch (error) {
        throw fail(error, 'ensureSpace');
      }
    },
    async spaces() {
      open();
      try {
        return (s.spaces.all() as Array<[string]>).map((r) => r[0]).sort();
      } catch (error) {
        throw fail(error, 'spaces');
      }
    },
    async get(space, key, now) {
      open();
      let row: [string, number, number, number, number | null] | undefined;
      try {
        row = s.get.get(space, key) as typeof row;
      } catch (error) {
        throw fail(error, 'get');
      }
      if (row === undefined || (row[4] !== null && row[4] <= now)) return null;
      return { key, value: row[0], version: row[1], createdAt: row[2], updatedAt: row[3], expiresAt: row[4] };
    },
    async getMany(space, keys, now) {
      open();
      if (keys.length === 0) return [];
      const found = new Map<string, StoredRecord>();
      try {
        for (const row of s.getMany.all(space, JSON.stringify(keys)) as Row[]) {
          if (live(row[5], now)) found.set(row[0], toRecord(row));
        }
      } catch (error) {
        throw fail(error, 'getMany');
      }
      return keys.map((key) => found.get(key) ?? null);
    },
    async scan(space, query, now) {
      open();
      try {
        return scan(space, query, now);
      } catch (error) {
        throw fail(error, 'scan');
      }
    },
    async count(space, query, now) {
      open();
      try {
        return count(space, query, now);
      } catch (error) {
        throw fail(error, 'count');
      }
    },
    async batch(ops, now) {
      writable('batch');
      if (ops.length === 0) return [];
      const events = hub.size > 0 ? [] : null;
      let results: BatchResult[];
      try {
        results = runBatch.immediate(ops, now, events);
      } catch (error) {
        throw fail(error, 'batch');
      }
      if (events) for (const event of events) hub.emit(event);
      return results;
    },
    async purgeExpired(now) {
      writable('purgeExpired');
      try {
        return s.purge.run(now).changes;
      } catch (error) {
        throw fail(error, 'purgeExpired');
      }
    },
    watch(listener) {
      open();
      const remove = hub.add(listener);
      remote?.sync();
      let active = true;
      return () => {
        if (!active) return;
        active = false;
        remove();
        remote?.sync();
      };
    },
    async stats() {
      open();
      try {
        return stats();
      } catch (error) {
        throw fail(error, 'stats');
      }
    },
    async verify() {
      open();
      return verify();
    },
    async close() {
      if (db === null) return;
      db = null;
      remote?.stop();
      hub.clear();
      statements.clear();
      conn.close();
    },
  };
  internals.set(driver, { db: open, buildScan });
  return driver;
}

function prepare(db: Database.Database) {
  const p = (sql: string): Stmt => {
    const stmt = db.prepare(sql) as Stmt;
    return stmt.reader ? stmt.raw(true) : stmt;
  };
  return {
    get: p('SELECT value, version, created_at, updated_at, expires_at FROM strata_records WHERE space = ? AND key = ?'),
    getMany: p(`SELECT ${COLUMNS} FROM strata_records WHERE space = ? AND key IN (SELECT value FROM json_each(?))`),
    version: p('SELECT version, expires_at FROM strata_records WHERE space = ? AND key = ?'),
    upsert: p(
      `INSERT INTO strata_records (space, key, value, version, created_at, updated_at, expires_at) VALUES (?, ?, ?, 1, ?, ?, ?)
       ON CONFLICT (space, key) DO UPDATE SET
         value = excluded.value,
         version = CASE WHEN expires_at IS NOT NULL AND expires_at <= excluded.updated_at THEN 1 ELSE version + 1 END,
         created_at = CASE WHEN expires_at IS NOT NULL AND expires_at <= excluded.updated_at THEN excluded.created_at ELSE created_at END,
         updated_at = excluded.updated_at,
         expires_at = excluded.expires_at
       RETURNING version, created_at`,
    ),
    remove: p(`DELETE FROM strata_records WHERE space = ? AND key = ? RETURNING ${COLUMNS}`),
    logChange: p('INSERT INTO strata_changes (writer, space, key, type, version, at) VALUES (?, ?, ?, ?, ?, ?)'),
    // Drops rows beyond the last CHANGES_KEEP or older than the age limit, never the newest.
    trimChanges: p(
      `DELETE FROM strata_changes WHERE seq < max(?, coalesce((SELECT seq FROM strata_changes WHERE at >= ? ORDER BY seq LIMIT 1), ?))`,
    ),
    purge: p('DELETE FROM strata_records WHERE expires_at IS NOT NULL AND expires_at <= ?'),
    getSpace: p('SELECT spec FROM strata_spaces WHERE space = ?'),
    putSpace: p('INSERT INTO strata_spaces (space, spec) VALUES (?, ?) ON CONFLICT (space) DO UPDATE SET spec = excluded.spec'),
    declaredSpaces: p('SELECT space FROM strata_spaces'),
    // Distinct spaces by skipping through the primary key instead of reading every row.
    spaces: p(
      `WITH RECURSIVE s(space) AS (
         SELECT min(space) FROM strata_records
         UNION ALL SELECT (SELECT min(space) FROM strata_records WHERE space > s.space) FROM s WHERE s.space IS NOT NULL
       )
       SELECT space FROM s WHERE space IS NOT NULL UNION SELECT space FROM strata_spaces`,
    ),
    spaceStats: p('SELECT space, count(*), coalesce(sum(octet_length(key) + octet_length(value)), 0) FROM strata_records GROUP BY space'),
    countAll: p('SELECT count(*) FROM strata_records'),
    invalidJson: p('SELECT space, key FROM strata_records WHERE NOT json_valid(value) LIMIT 1000'),
    pageCount: p('PRAGMA page_count'),
    pageSize: p('PRAGMA page_size'),
  };
}

/**
 * EXPLAIN QUERY PLAN of the SQL a scan runs, one line per plan step. For tests and
 * diagnostics only; not part of the Driver contract.
 * @internal
 */
export function explainScan(driver: Driver, space: string, query: ScanQuery, now = Date.now()): string[] {
  const inner = internals.get(driver);
  if (!inner) throw new StrataError('BAD_INPUT', 'explainScan needs a driver made by sqliteDriver()');
  const built = inner.buildScan(space, query, now, 'rows');
  const rows = inner.db().prepare(`EXPLAIN QUERY PLAN ${built.sql}`).all(...built.params) as Array<{ detail: string }>;
  return rows.map((r) => r.detail);
}

/**
 * The underlying better-sqlite3 connection, for Strata's own SQLite-specific operations
 * (backup, SQL migrations) and tests. Rejects with CLOSED after `close()`.
 * @internal
 */
export function sqliteConnection(driver: Driver): Database.Database {
  const inner = internals.get(driver);
  if (!inner) throw new StrataError('BAD_INPUT', 'sqliteConnection needs a driver made by sqliteDriver()');
  return inner.db();
}
