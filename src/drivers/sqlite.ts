import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { checkSqliteOptions } from './sqlite-options.js';
import { StrataError } from '../errors.js';
import { parseJson } from '../codec/json.js';
import { matches } from '../query/match.js';
import { compileFilter, compileOrder, prefixUpperBound, sqliteDialect } from '../query/sql.js';
import { compileAfter, type KeysetSegment } from '../query/keyset-sql.js';
import type { SortSpec } from '../query/ast.js';
import type {
  BatchResult,
  Driver,
  DriverStats,
  ScanQuery,
  SpaceSpec,
  StoredRecord,
  VerifyOptions,
  VerifyReport,
} from './driver.js';
import { ChangeHub, checkPurgeLimit, closedError } from './base.js';
import { sqliteError } from './sqlite-errors.js';
import { openDatabase } from './sqlite-schema.js';
import { COLUMNS, SpaceTables, tableName, VALUE_PACKED } from './sqlite-spaces.js';
import { RemoteWatcher, watchLimits, type WatchLimits } from './sqlite-watch.js';
import { BatchRunner } from './sqlite-batch.js';
import {
  checkedRecord,
  corruptRecord,
  corruptRegistry,
  rowIntact,
  unpackChecked,
  unpackValueChecked,
  type CheckedRow,
} from './sqlite-checksum.js';
import { verifyTables } from './sqlite-verify.js';
import { closeDamaged } from './sqlite-close.js';
import { openSqliteImage, removeStage, stageImage, swapIn, type SqliteImageContext, type SwapOptions } from './sqlite-image.js';

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
  /**
   * How much of the file SQLite reads through a memory map instead of `read()` calls (bytes;
   * 0 turns it off). Random reads of a store larger than the page cache get ~25% faster, and
   * the mapped pages are the kernel's page cache, shared and reclaimable, rather than a copy
   * in this process. An I/O error while reading a mapped page (a failing disk, a network
   * file system dropping out) arrives as SIGBUS instead of an error: use 0 for such files.
   * @default 268435456 (256 MiB)
   */
  mmapBytes?: number;
  /** Opens the file read-only: writes reject with UNSUPPORTED. @default false */
  readonly?: boolean;
  /** Name shown in stats and errors. @default 'sqlite' */
  name?: string;
  /** @internal Change-log and watcher limits, shrunk by tests (see sqlite-watch.ts). */
  watchLimits?: Partial<WatchLimits>;
  /**
   * `'wal'`: when the WAL is damaged in the middle (open fails with CORRUPT otherwise), copy
   * the store file, -wal and -shm to `<file>.damaged-<UTC time>/`, then let SQLite keep the
   * commits before the damage and drop the rest. Run it while no other process has the store
   * open. A healthy store opens as usual. URL: `?recover=wal`.
   */
  recover?: 'wal';
}

type Row = CheckedRow;
type Stmt = Database.Statement<unknown[], unknown[]>;

const DEFAULT_MMAP_BYTES = 256 * 1024 * 1024;
const MAX_CACHED_STATEMENTS = 200;

const live = (expiresAt: number | null, now: number): boolean => expiresAt === null || expiresAt > now;

/**
 * Scans read every column, checksum included, in every mode: a record is checked before
 * anything of it is returned or matched. `valuesOnly` then leaves out the metadata and
 * `keysOnly` the value, as the hints allow.
 */
type RowMapper = (row: Row, space: string, driver: string) => StoredRecord;
const toRecord: RowMapper = checkedRecord;
const toValueRecord: RowMapper = (row, space, driver) => {
  if (!rowIntact(row)) checkedRecord(row, space, driver);
  return { key: row[0], value: row[1], version: 0, createdAt: 0, updatedAt: 0, expiresAt: null };
};
/** A row of `key, VALUE_PACKED`: the value, checked (the scan already left out expired records). */
function packedValueRecord(row: Row, space: string, driver: string, now: number): StoredRecord {
  const key = row[0];
  const value = unpackValueChecked(row[1] as unknown as string | null, key, now, space, driver);
  if (value === null) throw corruptRecord(space, key, driver, 'reads as expired in a scan that excluded expired records');
  return { key, value, version: 0, createdAt: 0, updatedAt: 0, expiresAt: null };
}
const toKeyRecord: RowMapper = (row, space, driver) => {
  const record = checkedRecord(row, space, driver);
  record.value = '';
  return record;
};

interface Internals {
  db(): Database.Database;
  /** Swaps a store-shaped SQLite file in (see sqlite-image.ts) and tells this process's listeners. */
  swap(path: string, options: SwapOptions, now: number): string[];
  buildScan(
    space: string,
    query: ScanQuery,
    now: number,
    mode: 'rows' | 'count',
    segment?: KeysetSegment,
  ): { sql: string; params: unknown[] };
}
const internals = new WeakMap<Driver, Internals>();

/** The SQLite store: one file, WAL mode, every write an IMMEDIATE transaction. */
export function sqliteDriver(options: SqliteDriverOptions): Driver {
  checkSqliteOptions(options, typeof options?.name === 'string' ? options.name : 'sqlite');
  const name = options.name ?? 'sqlite';
  const memory = options.path === ':memory:';
  const location = memory ? options.path : resolve(options.path);
  const readonly = options.readonly ?? false;
  let db: Database.Database | null = openDatabase({
    path: options.path,
    durability: options.durability ?? 'full',
    busyTimeoutMs: options.busyTimeoutMs ?? 10_000,
    mmapBytes: options.mmapBytes ?? DEFAULT_MMAP_BYTES,
    readonly,
    driver: name,
    ...(options.recover === undefined ? {} : { recover: options.recover }),
  });
  const conn = db;
  /** Set once any read met damage: close() then leaves the WAL unapplied (see closeDamaged). */
  let damaged = false;
  const fail = (error: unknown, op: string): StrataError => {
    const mapped = sqliteError(error, op, name, location);
    if (mapped.code === 'CORRUPT') damaged = true;
    return mapped;
  };

  const writer = randomBytes(9).toString('base64url');
  let s: ReturnType<typeof prepare>;
  let tables: SpaceTables;
  let batcher: BatchRunner;
  try {
    s = prepare(conn);
    tables = new SpaceTables(conn, name);
    batcher = new BatchRunner(conn, tables, writer, name, { scan, limits: watchLimits(options.watchLimits) });
  } catch (error) {
    conn.close();
    throw fail(error, 'open');
  }

  const hub = new ChangeHub();
  const remote =
    memory || readonly
      ? null
      : new RemoteWatcher(conn, writer, hub, options.busyTimeoutMs ?? 10_000, watchLimits(options.watchLimits));
  const declared = new Map<string, Set<string>>();
  /** `arrayFree` answers per space and field, valid while `probeStamp` (file version + own writes) is unchanged. */
  const arrayFreeCache = new Map<string, { stamp: string; free: boolean }>();
  let probeStamp: string | null = null;
  let localWrites = 0;
  const dataVersion = conn.prepare('PRAGMA data_version').pluck() as Database.Statement<[], number>;
  const statements = new Map<string, Stmt>();

  const open = (): Database.Database => {
    if (db === null) throw closedError(name);
    return db;
  };
  const writable = (op: string): void => {
    open();
    if (readonly) {
      throw new StrataError('UNSUPPORTED', `the SQLite store ${location} is open read-only`, {
        driver: name,
        hint: 'open it without `readonly` to write',
        details: { driverOp: op },
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

  /**
   * A point read of one packed, checked text column (`get` or `getValue`, see
   * sqlite-spaces.ts), unpacked and checked by `unpack`. `null` when absent or expired.
   */
  function packedRead<T>(
    space: string,
    key: string,
    now: number,
    column: 'get' | 'getValue',
    unpack: (packed: string | null, key: string, now: number, space: string, driver: string) => T | null,
  ): T | null {
    if (db === null) throw closedError(name);
    try {
      const packed = tables.lookup(space)?.[column].get(key) as string | null | undefined;
      return packed === undefined ? null : unpack(packed, key, now, space, name);
    } catch (error) {
      throw fail(error, 'get');
    }
  }

  const pointRead = (space: string, key: string, now: number): StoredRecord | null =>
    packedRead(space, key, now, 'get', unpackChecked);

  /** `pointRead` of the value alone: kv.get and collection.get need no version or timestamps. */
  const valueRead = (space: string, key: string, now: number): string | null =>
    packedRead(space, key, now, 'getValue', unpackValueChecked);

  /** The SQL of a scan; a query with `after` reads one keyset `segment` of it at a time. */
  function buildScan(space: string, query: ScanQuery, now: number, mode: 'rows' | 'count', segment?: KeysetSegment) {
    const filter = compileFilter(query.filter, sqliteDialect, { arrayFree: (path) => arrayFree(space, path) });
    // The table is the space: nothing to bind for it, and its field indexes apply directly.
    const table = tableName(space);
    const params: unknown[] = [];
    let where = '(expires_at IS NULL OR expires_at > ?)';
    params.push(now);
    if (query.prefix) {
      where += ' AND key >= ?';
      params.push(query.prefix);
      const upper = prefixUpperBound(query.prefix);
      if (upper !== null) {
        where += ' AND key < ?';
        params.push(upper);
      }
    }
    if (filter.sql !== '1') {
      where += ` AND ${filter.sql}`;
      params.push(...filter.params);
    }
    if (mode === 'count') {
      return {
        sql: `SELECT ${filter.exact ? 'count(*)' : COLUMNS} FROM ${table} WHERE ${where}`,
        params,
        exact: filter.exact,
        toRecord,
      };
    }
    let sort: readonly SortSpec[] = query.sort ?? [];
    if (segment !== undefined) {
      where += ` AND ${segment.sql}`;
      params.push(...segment.params);
      sort = segment.sort;
    }
    const keysOnly = query.keysOnly === true && filter.exact;
    const valuesOnly = query.valuesOnly === true && !keysOnly;
    // An exact values-only scan (query, page, entries) reads `get`'s checked text column: two
    // cells per row for better-sqlite3 to build instead of eight, one crc32 call per record.
    const packed = valuesOnly && filter.exact;
    const columns = packed ? `key, ${VALUE_PACKED}` : COLUMNS;
    let sql = `SELECT ${columns} FROM ${table} WHERE ${where} ORDER BY ${compileOrder(sort, 'key', sqliteDialect)}`;
    if (filter.exact && (query.limit !== undefined || query.offset)) {
      sql += ' LIMIT ? OFFSET ?';
      params.push(query.limit ?? -1, query.offset ?? 0);
    }
    const mapper = packed
      ? (row: Row, s: string, d: string): StoredRecord => packedValueRecord(row, s, d, now)
      : keysOnly
        ? toKeyRecord
        : valuesOnly
          ? toValueRecord
          : toRecord;
    return { sql, params, exact: filter.exact, toRecord: mapper };
  }

  /**
   * Whether a top-level indexed field of `space` holds no array in any record: then filters
   * on it compile to one plain index range (array semantics need an extra range over the
   * array rows, which loses index order). One index seek; a scan that asks runs inside one
   * read snapshot with it (`snapshot`), so no array can appear in between. Nested paths and
   * unindexed fields are never claimed: a parent array hides them from json_extract.
   */
  function arrayFree(space: string, path: readonly string[]): boolean {
    if (path.length !== 1 || declared.get(space)?.has(path[0]!) !== true) return false;
    const id = `${space}\u0000${path[0]!}`;
    const known = probeStamp === null ? undefined : arrayFreeCache.get(id);
    if (known !== undefined && known.stamp === probeStamp) return known.free;
    const field = sqliteDialect.field(path);
    const probe = cached(`SELECT 1 FROM ${tableName(space)} WHERE ${field} BETWEEN '[' AND '\\' LIMIT 1`);
    const free = probe.get() === undefined;
    if (probeStamp !== null) arrayFreeCache.set(id, { stamp: probeStamp, free });
    return free;
  }

  /**
   * Runs a scan whose filter may ask `arrayFree`, so that the answer and the scan see one
   * state of the file. Optimistic: `PRAGMA data_version` changes whenever another connection
   * commits, and this connection's own writes cannot interleave with these synchronous
   * statements, so an unchanged version after the scan proves no commit came between the
   * probe and the scan; the probe's answer is kept until the file changes. Otherwise the
   * scan runs again inside one read transaction (a BEGIN/COMMIT per query measured ~40% of
   * an indexed query of 100 documents).
   */
  function snapshot<T>(space: string, query: Pick<ScanQuery, 'filter'>, fn: () => T): T {
    if (query.filter === undefined || conn.inTransaction || (declared.get(space)?.size ?? 0) === 0) return fn();
    const before = dataVersion.get();
    probeStamp = `${before}:${localWrites}`;
    try {
      const out = fn();
      if (dataVersion.get() === before) return out;
    } finally {
      probeStamp = null;
    }
    return readTransaction(fn);
  }

  function scan(space: string, query: ScanQuery, now: number): StoredRecord[] {
    if (tables.lookup(space) === null) return [];
    return snapshot(space, query, () => scanInSnapshot(space, query, now));
  }

  function scanInSnapshot(space: string, query: ScanQuery, now: number): StoredRecord[] {
    if (query.after === undefined) return scanPart(space, query, now, undefined);
    const segments = compileAfter(query.after, query.sort ?? [], 'key', sqliteDialect);
    if (segments.length === 1) return scanPart(space, query, now, segments[0]);
    if (query.offset) {
      // An offset counts across segments: read them as one condition in the full order.
      const sql = segments.map((seg) => `(${seg.sql})`).join(' OR ');
      return scanPart(space, query, now, {
        sql: `(${sql})`,
        params: segments.flatMap((seg) => seg.params),
        sort: query.sort ?? [],
      });
    }
    // One read transaction, so a concurrent write cannot move a record between segments.
    return readTransaction(() => {
      const limit = query.limit ?? Infinity;
      let out: StoredRecord[] = [];
      for (const segment of segments) {
        if (out.length >= limit) break;
        const rest = query.limit === undefined ? undefined : limit - out.length;
        out = out.concat(scanPart(space, { ...query, limit: rest }, now, segment));
      }
      return out;
    });
  }

  /** Runs reads on one snapshot of the file (a deferred transaction takes no write lock). */
  function readTransaction<T>(fn: () => T): T {
    return conn.transaction(fn).deferred();
  }

  function scanPart(space: string, query: ScanQuery, now: number, segment: KeysetSegment | undefined): StoredRecord[] {
    const built = buildScan(space, query, now, 'rows', segment);
    const stmt = cached(built.sql);
    if (built.exact) return (stmt.all(...built.params) as Row[]).map((row) => built.toRecord(row, space, name));
    // Object/array equality is checked here; offset and limit apply to what passes.
    const out: StoredRecord[] = [];
    let skip = query.offset ?? 0;
    const limit = query.limit ?? Infinity;
    if (limit <= 0) return out;
    for (const row of stmt.iterate(...built.params) as IterableIterator<Row>) {
      const record = built.toRecord(row, space, name);
      if (!matches(query.filter!, parseJson(row[1]))) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      out.push(record);
      if (out.length >= limit) break;
    }
    if (query.keysOnly) for (const r of out) r.value = '';
    return out;
  }

  function count(space: string, query: Pick<ScanQuery, 'prefix' | 'filter'>, now: number): number {
    if (tables.lookup(space) === null) return 0;
    return snapshot(space, query, () => countInSnapshot(space, query, now));
  }

  function countInSnapshot(space: string, query: Pick<ScanQuery, 'prefix' | 'filter'>, now: number): number {
    const built = buildScan(space, query, now, 'count');
    const stmt = cached(built.sql);
    if (built.exact) return (stmt.get(...built.params) as [number])[0];
    let n = 0;
    for (const row of stmt.iterate(...built.params) as IterableIterator<Row>) {
      if (matches(query.filter!, parseJson(checkedRecord(row, space, name).value))) n++;
    }
    return n;
  }

  function ensureSpace(space: string, spec: SpaceSpec): void {
    const known = declared.get(space);
    const wanted = [...new Set(spec.indexes ?? [])];
    if (known && wanted.every((p) => known.has(p))) return;
    // Validates every path (and builds its SQL) before anything is written.
    const fields = wanted.map((path) => ({ path, sql: sqliteDialect.field(path.split('.')) }));
    if (readonly) return;
    // Already declared with these indexes (the usual reopen): no write, so opening a store
    // and reading it leaves its files as they were.
    const exists = tables.lookup(space) !== null;
    // A table without its registry row can only be damage (both are written in one
    // transaction): writing the row again would paper over it.
    if (exists && !tables.registered(space)) throw corruptRegistry(space, name);
    const stored = exists ? tables.declared(space) : null;
    if (stored !== null && wanted.every((p) => stored.includes(p))) {
      declared.set(space, new Set(stored));
      return;
    }
    let committed = false;
    try {
      conn
        .transaction(() => {
          tables.ensure(space);
          const all = new Set<string>(tables.declaredIndexes(space));
          for (const f of fields) all.add(f.path);
          tables.declare(space, [...all]);
          for (const f of fields) tables.createFieldIndex(space, f.path, f.sql);
          declared.set(space, all);
        })
        .immediate();
      committed = true;
    } finally {
      tables.settle(committed);
    }
  }

  function stats(now: number): DriverStats {
    const spaces: DriverStats['spaces'] = [];
    for (const entry of tables.all()) {
      const [records, expired, bytes] = entry.stmts ? (entry.stmts.bytes.get({ now }) as [number, number, number]) : [0, 0, 0];
      // As before: a space is listed while declared or while it holds records (expired ones too).
      if (entry.spec !== null || records + expired > 0) spaces.push({ space: entry.space, records, expired, bytes });
    }
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
    return { driver: name, location, storageBytes, spaces };
  }

  function verify(options?: VerifyOptions): VerifyReport {
    try {
      const report = verifyTables(conn, options?.onProgress);
      if (!report.ok) damaged = true;
      return report;
    } catch (error) {
      const mapped = fail(error, 'verify');
      if (mapped.code !== 'CORRUPT') throw mapped;
      return { ok: false, checked: 0, issues: [{ code: 'CORRUPT', message: mapped.message }] };
    }
  }

  const imageContext: SqliteImageContext = { db: conn, location, driver: name };
  function swap(path: string, swapOptions: SwapOptions, now: number): string[] {
    localWrites++;
    const spaces = swapIn(imageContext, path, swapOptions, now);
    for (const space of spaces) hub.emit({ space, key: '', type: 'reset', version: null, origin: 'local' });
    return spaces;
  }

  const driver: Driver = {
    name,
    capabilities: {
      persistent: !memory,
      crossProcess: !memory,
      watchRemote: remote !== null,
      nativeIndexes: true,
      syncReads: true,
      valueReads: true,
      images: true,
    },
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
        const out: string[] = [];
        for (const { space, spec, stmts } of tables.all()) {
          // Declared, or holding at least one record (expired ones count until purged).
          if (spec !== null || (stmts !== null && stmts.any.get() !== undefined)) out.push(space);
        }
        return out;
      } catch (error) {
        throw fail(error, 'spaces');
      }
    },
    getSync: pointRead,
    getValueSync: valueRead,
    async get(space, key, now) {
      return pointRead(space, key, now);
    },
    async getMany(space, keys, now) {
      open();
      if (keys.length === 0) return [];
      const found = new Map<string, StoredRecord>();
      try {
        const stmts = tables.lookup(space);
        const rows = stmts === null ? [] : (stmts.getMany.all(JSON.stringify(keys)) as Row[]);
        for (const row of rows) {
          const record = checkedRecord(row, space, name);
          if (live(record.expiresAt, now)) found.set(record.key, record);
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
    async batch(ops, now, options) {
      // Only checks (a read-only transaction's validation) also run on a read-only file.
      if (ops.every((op) => op.type === 'check' || op.type === 'checkScan')) open();
      else writable('batch');
      if (ops.length === 0) return [];
      const events = hub.size > 0 ? [] : null;
      let results: BatchResult[];
      localWrites++;
      try {
        results = batcher.run(ops, now, events, options?.results !== false);
      } catch (error) {
        throw fail(error, 'batch');
      }
      if (events) for (const event of events) hub.emit(event);
      return results;
    },
    async purgeExpired(now, limit) {
      writable('purgeExpired');
      checkPurgeLimit(limit, name);
      const events = hub.size > 0 ? [] : null;
      let removed: number;
      try {
        removed = batcher.purge(now, limit, events);
      } catch (error) {
        throw fail(error, 'purgeExpired');
      }
      if (events) for (const event of events) hub.emit(event);
      return removed;
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
    async openImage(now) {
      open();
      try {
        return openSqliteImage(imageContext, now);
      } catch (error) {
        throw fail(error, 'openImage');
      }
    },
    async loadImage(source, options, now) {
      writable('loadImage');
      let staged: { path: string; records: number } | undefined;
      try {
        staged = await stageImage(location, source);
        writable('loadImage');
        swap(staged.path, { mode: options.mode, mergePrefix: options.mergePrefix }, now);
        return { records: staged.records };
      } catch (error) {
        throw fail(error, 'loadImage');
      } finally {
        if (staged !== undefined) removeStage(staged.path);
      }
    },
    async stats(now = Date.now()) {
      open();
      try {
        return stats(now);
      } catch (error) {
        throw fail(error, 'stats');
      }
    },
    async verify(options) {
      open();
      return verify(options);
    },
    async close() {
      if (db === null) return;
      db = null;
      remote?.stop();
      hub.clear();
      statements.clear();
      tables.clear();
      if (damaged && !memory && !readonly) closeDamaged(conn, location);
      else conn.close();
    },
  };
  // Whoever takes the raw connection may write through it, unseen by data_version.
  const rawConnection = (): Database.Database => {
    localWrites++;
    return open();
  };
  const swapChecked = (path: string, swapOptions: SwapOptions, now: number): string[] => {
    writable('restore');
    try {
      return swap(path, swapOptions, now);
    } catch (error) {
      throw fail(error, 'restore');
    }
  };
  internals.set(driver, { db: rawConnection, buildScan, swap: swapChecked });
  locations.set(driver, location);
  return driver;
}

function prepare(db: Database.Database) {
  const p = (sql: string): Stmt => {
    const stmt = db.prepare(sql) as Stmt;
    return stmt.reader ? stmt.raw(true) : stmt;
  };
  return {
    pageCount: p('PRAGMA page_count'),
    pageSize: p('PRAGMA page_size'),
  };
}

/**
 * EXPLAIN QUERY PLAN of the SQL a scan runs, one line per plan step. For tests and
 * diagnostics only; not part of the Driver contract.
 * @internal
 */
export function explainScan(driver: Driver, space: string, query: ScanQuery, now = Date.now(), segment = 0): string[] {
  const inner = internals.get(driver);
  if (!inner) throw new StrataError('BAD_INPUT', 'explainScan needs a driver made by sqliteDriver()');
  const segments = query.after === undefined ? [] : compileAfter(query.after, query.sort ?? [], 'key', sqliteDialect);
  const built = inner.buildScan(space, query, now, 'rows', segments[segment]);
  const rows = inner
    .db()
    .prepare(`EXPLAIN QUERY PLAN ${built.sql}`)
    .all(...built.params) as Array<{ detail: string }>;
  return rows.map((r) => r.detail);
}

/**
 * The underlying better-sqlite3 connection, for Strata's own SQLite-specific operations
 * (backup, SQL migrations) and tests. Throws CLOSED after `close()`.
 * @internal
 */
export function sqliteConnection(driver: Driver): Database.Database {
  const inner = internals.get(driver);
  if (!inner) throw new StrataError('BAD_INPUT', 'sqliteConnection needs a driver made by sqliteDriver()');
  return inner.db();
}

/**
 * Swaps a store-shaped SQLite file (a backup made by VACUUM INTO, or a staged image) into the
 * store in one transaction; `userTables` makes tables of SQL migrations match it too.
 * Returns the spaces whose contents may have changed. @internal
 */
export function sqliteSwapFile(driver: Driver, path: string, options: SwapOptions, now: number): string[] {
  const inner = internals.get(driver);
  if (!inner) throw new StrataError('BAD_INPUT', 'sqliteSwapFile needs a driver made by sqliteDriver()');
  return inner.swap(path, options, now);
}

/** The file of an SQLite store (':memory:' for a private one), or `null` for other drivers. @internal */
export function sqliteLocation(driver: Driver): string | null {
  return internals.has(driver) ? (locations.get(driver) ?? null) : null;
}
const locations = new WeakMap<Driver, string>();
