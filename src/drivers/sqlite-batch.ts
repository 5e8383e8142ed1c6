import type Database from 'better-sqlite3';
import { StrataError } from '../errors.js';
import type { BatchResult, ChangeEvent, ScanQuery, StoredRecord, WriteOp } from './driver.js';
import { scanDigest } from './scan-digest.js';
import { versionConflict } from './version-conflict.js';
import { POSITIONS_DDL, watchLimits, type WatchLimits } from './sqlite-watch.js';
import { KEPT_TTL_FN, purgeSql, QUIET_ROWS, REPORT_FN, type SpaceStatements, type SpaceTables } from './sqlite-spaces.js';
import { checkedRecord, insertVsum, recordCrc, rowIntact, type CheckedRow } from './sqlite-checksum.js';
import { checkQuotaUsage, type QuotaOp, type Usage } from './quota-usage.js';
import { SqliteUsage } from './sqlite-usage.js';
import { SqliteJournal } from './sqlite-journal.js';

type Stmt = Database.Statement<unknown[], unknown[]>;

const BATCH_SQL = {
  watched: 'SELECT 1 FROM strata_watchers WHERE seen > ? AND id <> ? LIMIT 1',
  logChanges: 'INSERT INTO strata_changes (writer, at, changes) VALUES (?, ?, ?)',
} as const;
/**
 * Drops batches beyond the last `keep` or older than `maxAgeMs` (never the newest), except
 * those a live watcher has not read yet, which stay up to `keepUnread` batches (see
 * WatchLimits). Parameters: newest seq - keepUnread + 1, newest seq - keep + 1, age cut,
 * newest seq, live-watcher cut, newest seq.
 */
const TRIM_SQL = `DELETE FROM strata_changes WHERE seq < max(?, min(
    max(?, coalesce((SELECT seq FROM strata_changes WHERE at >= ? ORDER BY seq LIMIT 1), ?)),
    coalesce((SELECT min(seq) + 1 FROM strata_watch_positions WHERE seen > ?), ?)))`;

/** Runs a transaction's scan again inside the batch (`checkScan`): sqlite.ts's own scan. */
export type ScanFn = (space: string, query: ScanQuery, now: number) => StoredRecord[];

type BatchStatements = Record<keyof typeof BATCH_SQL, Stmt>;

const live = (expiresAt: number | null, now: number): boolean => expiresAt === null || expiresAt > now;

/**
 * Runs write batches, each in one IMMEDIATE transaction: every op works on the live state of
 * its key (seeing earlier ops of the batch), `expect` is checked, and, while another
 * connection watches, the batch appends one row to the change log. A thrown CONFLICT rolls
 * everything back.
 *
 * Writes are the hot path. A put is a single UPSERT, which finds the row once and computes
 * the new version in SQL; it reports an overwrite through a connection-local function, and
 * no report means a new (or expired) key: version 1. The previous live version is then
 * always version - 1, so `expect` is checked after the write and a mismatch rolls back.
 * This measures several times faster than UPSERT ... RETURNING (which spills to a statement
 * journal) and clearly faster than a read followed by a write. Quiet puts (nobody reads
 * versions back) go QUIET_ROWS to a statement (`#enqueue`), flushed before any other op.
 */
export class BatchRunner {
  readonly #s: BatchStatements;
  readonly #tables: SpaceTables;
  readonly #writer: string;
  readonly #driver: string;
  readonly #run: Database.Transaction<
    (ops: readonly WriteOp[], now: number, events: ChangeEvent[] | null, results: boolean) => BatchResult[]
  >;
  readonly #db: Database.Database;
  readonly #scan: ScanFn;
  readonly #limits: WatchLimits;
  readonly #usage: SqliteUsage;
  readonly #journal: SqliteJournal;
  #trim: Stmt | null = null;
  /** `purgeSql ... RETURNING key` per table and bound, prepared on first use (see `purge`). */
  readonly #purgeStatements = new Map<string, Database.Statement<unknown[], string>>();
  /** The running batch only checks: it must not create tables (a read snapshot, maybe a read-only file). */
  #readOnly = false;
  #overwrote = false;
  #version = 0;
  #createdAt = 0;
  #trimmedAt = 0;
  /** Quiet puts waiting for `#flush`: 7 parameters each, all for the space of `#queuedIn`. */
  readonly #queue: unknown[] = new Array<unknown>(QUIET_ROWS * 7).fill(null);
  #queued = 0;
  #queuedIn: SpaceStatements | null = null;
  /** No queued put sets an expiry: the group can run as `quietManyPlain`. */
  #queuedPlain = true;
  /** Keys a `quietManyPlain` statement left alone because their rows have an expiry. */
  #keptTtl: Set<string> | null = null;

  constructor(
    db: Database.Database,
    tables: SpaceTables,
    writer: string,
    driver: string,
    hooks: { scan: ScanFn; limits?: WatchLimits },
  ) {
    this.#db = db;
    this.#tables = tables;
    this.#writer = writer;
    this.#driver = driver;
    this.#scan = hooks.scan;
    this.#limits = hooks.limits ?? watchLimits();
    this.#usage = new SqliteUsage(db, tables);
    this.#journal = new SqliteJournal(db, tables);
    db.function(REPORT_FN, { directOnly: true, deterministic: false }, (version: number, createdAt: number) => {
      this.#overwrote = true;
      this.#version = version;
      this.#createdAt = createdAt;
      return version;
    });
    db.function(KEPT_TTL_FN, { directOnly: true, deterministic: false }, (key: string, expiresAt: number | null) => {
      if (expiresAt !== null) (this.#keptTtl ??= new Set()).add(key);
      return 0;
    });
    this.#s = Object.fromEntries(Object.entries(BATCH_SQL).map(([name, sql]) => [name, db.prepare(sql)])) as BatchStatements;
    for (const stmt of Object.values(this.#s)) if (stmt.reader) stmt.raw(true);
    this.#run = db.transaction((ops: readonly WriteOp[], now: number, events: ChangeEvent[] | null, results: boolean) =>
      this.#apply(ops, now, events, results),
    );
  }

  /** `wantResults: false` lets plain puts skip the overwrite report and result records. */
  run(ops: readonly WriteOp[], now: number, events: ChangeEvent[] | null, wantResults = true): BatchResult[] {
    let committed = false;
    try {
      // Only checks (a read-only transaction): one read snapshot validates them all, without
      // taking the write lock or waiting for it.
      this.#readOnly = ops.every(isCheck);
      const results = this.#readOnly
        ? this.#run.deferred(ops, now, events, wantResults)
        : this.#run.immediate(ops, now, events, wantResults);
      committed = true;
      return results;
    } finally {
      this.#queue.fill(null); // holds no values past the batch
      this.#tables.settle(committed);
      this.#usage.settle(committed);
      if (!committed) this.#trim = null; // the positions table may have gone with the rollback
    }
  }

  #conflict(
    index: number,
    op: Extract<WriteOp, { type: 'put' | 'delete' | 'check' }>,
    actual: number,
    rewritten = false,
  ): StrataError {
    return versionConflict(this.#driver, index, op, actual, rewritten);
  }

  #apply(ops: readonly WriteOp[], now: number, events: ChangeEvent[] | null, wantResults: boolean): BatchResult[] {
    const results: BatchResult[] = [];
    const changes: Array<[space: string, key: string, version: number | null]> | null = this.#othersWatch() ? [] : null;
    // Nobody needs versions back: no results, no change log, no local listeners.
    const journal = ops.at(-1)?.type === 'journal';
    const quiet = !wantResults && changes === null && events === null && !journal;
    // Batches mostly target one space: skip the map lookup while it stays the same.
    let space: string | null = null;
    let t: SpaceStatements | null = null;
    this.#queued = 0;
    this.#queuedPlain = true;
    const quotas = this.#quotaStart(ops, now);
    for (let index = 0; index < ops.length; index++) {
      const op = ops[index]!;
      if (quiet && op.type === 'put' && op.expect === undefined && op.space === space) {
        this.#enqueue(t!, op.key, op.value, now, op.expiresAt);
        continue;
      }
      // Every other op sees the queued puts written first.
      this.#flush();
      if (op.type === 'checkScan') {
        this.#checkScan(op, index, now);
        results.push(null);
        continue;
      }
      if (op.type === 'checkQuota' || op.type === 'journal') {
        results.push(null); // checked (or journaled) once every write is in (below)
        continue;
      }
      if (this.#readOnly && this.#tables.lookup(op.space) === null) {
        // No table yet: nothing stored, so version 0 (`ensure` below would create one).
        if (op.expect !== 0) throw this.#conflict(index, op, 0);
        results.push(null);
        continue;
      }
      if (op.space !== space) {
        space = op.space;
        t = this.#tables.ensure(space);
      }
      // A write conditional on the very write it read (kv.update, incr, take): checked first.
      if (op.type === 'put' && op.stamp !== undefined) this.#checkRead(t!, op, index, now);
      if (quiet && op.type === 'put' && op.expect === undefined) {
        this.#enqueue(t!, op.key, op.value, now, op.expiresAt);
      } else if (op.type === 'put') {
        this.#overwrote = false;
        const crc = recordCrc(op.key, op.value, now, op.expiresAt);
        const vsum = insertVsum(crc, now);
        const args = [op.key, op.value, now, now, op.expiresAt, crc, vsum] as const;
        if ((op.expiresAt !== null || t!.upsertPlain.run(...args).changes === 0) && t!.upsert.run(...args).changes === 0) {
          t!.replace.run(...args);
        }
        const version = this.#overwrote ? this.#version : 1;
        const createdAt = this.#overwrote ? this.#createdAt : now;
        if (op.expect !== undefined && version - 1 !== op.expect) throw this.#conflict(index, op, version - 1);
        results.push({ key: op.key, value: op.value, version, createdAt, updatedAt: now, expiresAt: op.expiresAt, stamp: crc });
        changes?.push([op.space, op.key, version]);
        events?.push({ space: op.space, key: op.key, type: 'put', version, value: op.value, origin: 'local' });
      } else if (op.type === 'delete') {
        const row = t!.row.get(op.key) as CheckedRow | undefined;
        // An unconditional delete may remove a damaged record: it is how a user repairs one
        // (the hint of CORRUPT says so). It counts as existing; its contents are not trusted.
        const damaged = row !== undefined && op.expect === undefined && !rowIntact(row);
        const stored = row === undefined ? undefined : damaged ? rawRecord(row) : checkedRecord(row, op.space, this.#driver);
        const existing: StoredRecord | null = stored !== undefined && (damaged || live(stored.expiresAt, now)) ? stored : null;
        const actual = existing?.version ?? 0;
        if (op.expect !== undefined && actual !== op.expect) throw this.#conflict(index, op, actual);
        if (op.stamp !== undefined && existing !== null && existing.stamp !== op.stamp)
          throw this.#conflict(index, op, actual, true);
        results.push(existing);
        if (row !== undefined) {
          t!.remove.run(op.key);
          changes?.push([op.space, op.key, null]);
          events?.push({ space: op.space, key: op.key, type: 'delete', version: null, origin: 'local' });
        }
      } else {
        this.#checkRead(t!, op, index, now);
        results.push(null);
      }
    }
    this.#flush();
    if (quotas !== null)
      for (const [op, before] of quotas) checkQuotaUsage(op, before, this.#usage.live(op.space, now), this.#driver);
    if (journal) this.#journal.append(ops, results, now);
    if (changes !== null && changes.length > 0) this.#logChanges(changes, now);
    return wantResults ? results : [];
  }

  /** Whether another connection watches (its registration is live): only then are changes logged. */
  #othersWatch(): boolean {
    return this.#s.watched.get(Date.now() - this.#limits.ttlMs, this.#writer) !== undefined;
  }

  /** One row of the change log for other processes' watchers, trimming the log now and then. */
  #logChanges(changes: Array<[space: string, key: string, version: number | null]>, now: number): void {
    const seq = Number(this.#s.logChanges.run(this.#writer, now, JSON.stringify(changes)).lastInsertRowid);
    if (seq - this.#trimmedAt >= this.#limits.trimEvery) {
      const l = this.#limits;
      // Rows carry `now`; heartbeats carry the wall clock.
      this.#trimStatement().run(seq - l.keepUnread + 1, seq - l.keep + 1, now - l.maxAgeMs, seq, Date.now() - l.ttlMs, seq);
      this.#trimmedAt = seq;
    }
  }

  /**
   * Removes expired records (at most `limit`) in one transaction: a purge that fails half-way
   * removes nothing. A removal is a change like any delete: watchers in this process get it
   * through `events`, those in other processes through the change log (they otherwise kept
   * mirroring records the sweeper had removed). The keys are read back only when someone watches.
   */
  purge(now: number, limit: number | undefined, events: ChangeEvent[] | null): number {
    return this.#db
      .transaction(() => {
        const changes: Array<[string, string, null]> | null = this.#othersWatch() ? [] : null;
        let removed = 0;
        for (const { space, table, stmts } of this.#tables.all()) {
          if (stmts === null) continue;
          if (limit !== undefined && removed >= limit) break;
          if (changes === null && events === null) {
            removed += limit === undefined ? stmts.purge.run(now).changes : stmts.purgeSome.run(now, limit - removed).changes;
            continue;
          }
          const keys = this.#purgeReturning(table, limit !== undefined).all(
            ...(limit === undefined ? [now] : [now, limit - removed]),
          ) as string[];
          removed += keys.length;
          for (const key of keys) {
            changes?.push([space, key, null]);
            events?.push({ space, key, type: 'delete', version: null, origin: 'local' });
          }
        }
        if (changes !== null && changes.length > 0) this.#logChanges(changes, now);
        return removed;
      })
      .immediate();
  }

  /** `purge` / `purgeSome` of a space that also return the removed keys (prepared on first use). */
  #purgeReturning(table: string, bounded: boolean): Database.Statement<unknown[], string> {
    const id = `${bounded ? 'some' : 'all'} ${table}`;
    let stmt = this.#purgeStatements.get(id);
    if (stmt === undefined) {
      stmt = (this.#db.prepare(`${purgeSql(table, bounded)} RETURNING key`) as Database.Statement<unknown[], string>).pluck(true);
      this.#purgeStatements.set(id, stmt);
    }
    return stmt;
  }

  /** CONFLICT unless the stored record is as `op` read it: at `op.expect` and, when `op.stamp` is set, that very write. */
  #checkRead(t: SpaceStatements, op: Extract<WriteOp, { type: 'put' | 'delete' | 'check' }>, index: number, now: number): void {
    const row = t.row.get(op.key) as CheckedRow | undefined;
    const head = row === undefined ? undefined : checkedRecord(row, op.space, this.#driver);
    const actual = head !== undefined && live(head.expiresAt, now) ? head.version : 0;
    if (op.expect !== undefined && actual !== op.expect) throw this.#conflict(index, op, actual);
    if (op.stamp !== undefined && actual !== 0 && head!.stamp !== op.stamp) throw this.#conflict(index, op, actual, true);
  }

  /** The usage each `checkQuota` op of the batch starts from, or `null` when it has none. */
  #quotaStart(ops: readonly WriteOp[], now: number): Array<[QuotaOp, Usage]> | null {
    let quotas: Array<[QuotaOp, Usage]> | null = null;
    for (const op of ops) {
      if (op.type !== 'checkQuota') continue;
      quotas ??= [];
      quotas.push([op, this.#usage.live(op.space, now)]);
    }
    return quotas;
  }

  /**
   * Queues a quiet put (results unread, no expect) of the space `t`; every QUIET_ROWS of
   * them run as one `quietMany` statement. The caller flushes before any other op.
   */
  #enqueue(t: SpaceStatements, key: string, value: string, now: number, expiresAt: number | null): void {
    if (this.#queuedIn !== t) {
      this.#flush();
      this.#queuedIn = t;
    }
    if (expiresAt !== null) this.#queuedPlain = false;
    // The seal of the row as inserted (version 1); an overwrite computes its vsum in SQL.
    const crc = recordCrc(key, value, now, expiresAt);
    const q = this.#queue;
    const at = this.#queued * 7;
    q[at] = key;
    q[at + 1] = value;
    q[at + 2] = now;
    q[at + 3] = now;
    q[at + 4] = expiresAt;
    q[at + 5] = crc;
    q[at + 6] = insertVsum(crc, now);
    if (++this.#queued === QUIET_ROWS) {
      this.#queued = 0;
      if (this.#queuedPlain) this.#runPlainGroup(t, q);
      else t.quietMany.run(q);
      this.#queuedPlain = true;
    }
  }

  /** A full group of puts without expiry; the rows it left alone (they have one) are written in full, in order. */
  #runPlainGroup(t: SpaceStatements, q: unknown[]): void {
    this.#keptTtl = null;
    t.quietManyPlain.run(q);
    const kept = this.#keptTtl as Set<string> | null;
    if (kept === null) return;
    this.#keptTtl = null;
    // Left alone means not written at all, so writing them now, in order, is what the group meant.
    for (let at = 0; at < QUIET_ROWS * 7; at += 7) if (kept.has(q[at] as string)) this.#putQueued(t, q, at, false);
  }

  /**
   * One queued put, one statement; `plainFirst`: tried first as `quietUpsertPlain` when it
   * sets no expiry. The full statements handle any stored row (an expiry set, expired).
   */
  #putQueued(t: SpaceStatements, q: unknown[], at: number, plainFirst: boolean): void {
    const args = [q[at], q[at + 1], q[at + 2], q[at + 3], q[at + 4], q[at + 5], q[at + 6]] as const;
    if (plainFirst && args[4] === null && t.quietUpsertPlain.run(...args).changes !== 0) return;
    if (t.quietUpsert.run(...args).changes === 0) t.replace.run(...args);
  }

  /** Writes the queued quiet puts, in order: a short tail one statement each. */
  #flush(): void {
    const n = this.#queued;
    if (n === 0) return;
    this.#queued = 0; // nothing stays queued if a write throws (the batch rolls back)
    const t = this.#queuedIn!;
    const q = this.#queue;
    this.#queuedPlain = true;
    for (let at = 0; at < n * 7; at += 7) this.#putQueued(t, q, at, true);
  }

  #trimStatement(): Stmt {
    if (this.#trim === null) {
      // Inside this batch's write transaction; kept only once that commits (see `run`).
      this.#db.exec(POSITIONS_DDL);
      this.#trim = this.#db.prepare(TRIM_SQL);
    }
    return this.#trim;
  }

  /** A transaction's scan, run again under the write lock: CONFLICT unless it returns the same records. */
  #checkScan(op: Extract<WriteOp, { type: 'checkScan' }>, index: number, now: number): void {
    if (scanDigest(this.#scan(op.space, op.query, now)) === op.expect) return;
    throw new StrataError('CONFLICT', `a scan of "${op.space}" returns other records than when the transaction read it`, {
      driver: this.#driver,
      hint: 'run the transaction again: store.transaction does this by itself',
      details: { index, space: op.space, kind: 'scan' },
    });
  }
}

const isCheck = (op: WriteOp): boolean => op.type === 'check' || op.type === 'checkScan';

/** A damaged row as a record, for the result of the delete that removes it (never returned as data). */
function rawRecord(row: CheckedRow): StoredRecord {
  return { key: String(row[0]), value: 'null', version: 0, createdAt: 0, updatedAt: 0, expiresAt: null };
}
