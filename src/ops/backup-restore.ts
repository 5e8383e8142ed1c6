import { randomBytes } from 'node:crypto';
import { createWriteStream, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Driver, RawRecord, VerifyReport, WriteOp } from '../drivers/driver.js';
import { memoryDriver } from '../drivers/memory.js';
import { sqliteDriver, sqliteLocation, sqliteSwapFile } from '../drivers/sqlite.js';
import { removeStage } from '../drivers/sqlite-image.js';
import { registerChecksumFunctions } from '../drivers/sqlite-checksum.js';
import { verifyTables } from '../drivers/sqlite-verify.js';
import { verifyFileInParallel } from '../drivers/sqlite-verify-parallel.js';
import Database from 'better-sqlite3';
import type { StrataError } from '../errors.js';
import { bottomDriver, checkRawRecord, cryptoIdentity, loadRecords, refreshAfterLoad, type ImageStore } from './image.js';
import { damagedBackup, JOURNAL_SPACE, journalSeqOfKey, type BackupManifest } from './backup-format.js';
import type { BackupTarget } from './backup-target.js';
import { readPart } from './backup-stream.js';
import { RecordsCheck } from './backup-records.js';
import { removeStaleScratch } from './backup-scratch.js';

/**
 * A backup made whole again in a scratch store, checked against its manifest, before
 * anything of the live store changes. `driver` is a Strata driver over the scratch copy
 * (SQLite for `sqlite-file` backups, memory for `records` ones).
 */
export interface Scratch {
  manifest: BackupManifest;
  /** Opened on first use (a restore from SQLite into SQLite needs none). */
  readonly driver: Driver;
  /** The scratch SQLite file, for `sqlite-file` backups. */
  file: string | null;
  /** Closes the scratch driver when it was opened, so the file holds everything written to it. */
  settle(): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * Hook run on the scratch copy after it is checked and before it replaces the live store:
 * point-in-time restore (journal replay) applies its records and deletes here, so the
 * backup and the replayed changes land in the same atomic step. Write verbatim records
 * with `scratch.driver.loadImage(records, { mode: 'merge' }, now)` and deletes with
 * `scratch.driver.batch([{ type: 'delete', space, key }], now)`.
 */
export type PrepareScratch = (scratch: Scratch) => Promise<void>;

function scratchPath(store: ImageStore): string {
  const location = sqliteLocation(bottomDriver(store));
  if (location !== null) removeStaleScratch(location);
  const name = `.strata-restore-${process.pid}-${randomBytes(6).toString('hex')}.db`;
  return location === null || location === ':memory:' ? join(tmpdir(), name) : `${location}${name}`;
}

/**
 * Parses the records part line by line; a line that is not a record (its value JSON text
 * included), or whose key no write makes (backup-records.ts), is damage (CORRUPT), and so is
 * a number of lines other than the manifest's `records` (a line added or cut). Lines that
 * parse but do not add up (a key twice with the manifest counting both, a record expired at
 * `at`, a space the manifest lacks) load into the copy and are caught by `checkScratch`'s
 * counts, which restore and verify both run, and so are values no write stores and documents
 * under another key than their key field's (`RecordsCheck.finish`: the rules for those are in
 * meta spaces, which come after the records they describe).
 */
async function* recordsOf(bytes: AsyncIterable<Buffer>, manifest: BackupManifest, check: RecordsCheck): AsyncIterable<RawRecord> {
  const { id } = manifest;
  let rest = '';
  let index = 0;
  const parse = (line: string): RawRecord => {
    let record: RawRecord;
    try {
      // Values are parsed by the check (once): JSON text, then what a write stores.
      record = checkRawRecord(JSON.parse(line), index++, false, 'restore');
    } catch (cause) {
      throw Object.assign(damagedBackup(id, `line ${index} of its records is not a record`), { cause });
    }
    const problem = check.line(record);
    if (problem !== null) throw damagedBackup(id, `line ${index} of its records is not a record a write makes: ${problem}`);
    return record;
  };
  for await (const chunk of bytes) {
    rest += chunk.toString('utf8');
    let at: number;
    while ((at = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, at);
      rest = rest.slice(at + 1);
      if (line !== '') yield parse(line);
    }
  }
  if (rest !== '') yield parse(rest);
  if (index !== manifest.records) {
    throw damagedBackup(id, `its records part holds ${index} records, the manifest says ${manifest.records}`);
  }
}

/** The per-record checks of a records backup's scratch copy, which `checkScratch` finishes. */
const recordChecks = new WeakMap<Scratch, RecordsCheck>();

/** Rebuilds a backup in scratch space, checking every byte against the manifest. */
export async function openScratch(
  store: ImageStore,
  target: BackupTarget,
  manifest: BackupManifest,
  onProgress?: (progress: { bytes: number; totalBytes: number }) => void,
): Promise<Scratch> {
  const part = manifest.parts[0]!;
  const onRaw = onProgress === undefined ? undefined : (bytes: number): void => onProgress({ bytes, totalBytes: part.rawBytes });
  if (manifest.kind === 'records') {
    const driver = memoryDriver({ name: 'backup' });
    const check = new RecordsCheck();
    try {
      await driver.loadImage!(
        recordsOf(readPart(target, manifest.id, part, onRaw), manifest, check),
        { mode: 'replace' },
        manifest.at,
      );
    } catch (error) {
      await driver.close();
      throw error;
    }
    const scratch: Scratch = { manifest, driver, file: null, settle: async () => {}, dispose: () => driver.close() };
    recordChecks.set(scratch, check);
    return scratch;
  }
  const file = scratchPath(store);
  try {
    await pipeline(Readable.from(readPart(target, manifest.id, part, onRaw)), createWriteStream(file, { mode: 0o600 }));
  } catch (error) {
    removeStage(file);
    throw error;
  }
  let driver: Driver | undefined;
  let disposed = false;
  return {
    manifest,
    get driver(): Driver {
      driver ??= sqliteDriver({ path: file, durability: 'normal', name: 'backup', mmapBytes: 0 });
      return driver;
    },
    file,
    async settle() {
      await driver?.close();
      driver = undefined;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await driver?.close();
      removeStage(file);
    },
  };
}

/** Live records per space in the scratch copy, at the backup's time. */
async function countsOf(driver: Driver, at: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const space of await driver.spaces()) out[space] = await driver.count(space, {}, at);
  return out;
}

/** A scratch file at least this big is checked on several threads (see verifyFileInParallel). */
const PARALLEL_CHECK_BYTES = 32 * 1024 * 1024;

/**
 * Integrity of the scratch copy, its counts and journal position (`journalSeq`) against the
 * manifest, and for a records backup every record one a write could have stored: CORRUPT when
 * they differ.
 */
export async function checkScratch(scratch: Scratch, options: { parallelCheckBytes?: number } = {}): Promise<VerifyReport> {
  const { manifest } = scratch;
  let report: VerifyReport;
  let found: Record<string, number>;
  let journalSeq: number | undefined;
  if (scratch.file !== null) {
    const unreadable = (cause: unknown): StrataError =>
      Object.assign(damagedBackup(manifest.id, `its SQLite file cannot be read (${(cause as Error).message})`), { cause });
    // A plain connection: the checks of the driver's verify, without opening a store on it.
    let db: Database.Database;
    try {
      db = new Database(scratch.file, { fileMustExist: true });
      db.pragma('trusted_schema = OFF'); // a backup from elsewhere must not run functions from its schema
      registerChecksumFunctions(db, 'backup');
    } catch (cause) {
      throw Object.assign(damagedBackup(manifest.id, 'its SQLite file does not open'), { cause });
    }
    try {
      try {
        report =
          statSync(scratch.file).size >= (options.parallelCheckBytes ?? PARALLEL_CHECK_BYTES)
            ? await verifyFileInParallel(db, scratch.file)
            : verifyTables(db);
      } catch (cause) {
        throw unreadable(cause);
      }
      try {
        found = report.ok ? sqliteCounts(db, manifest.at) : {};
        journalSeq = report.ok ? sqliteJournalSeq(db) : undefined;
      } catch (cause) {
        throw unreadable(cause);
      }
    } finally {
      db.close();
    }
  } else {
    report = await scratch.driver.verify();
    found = await countsOf(scratch.driver, manifest.at);
    journalSeq = recordChecks.get(scratch)?.journalSeq;
  }
  if (!report.ok) {
    throw damagedBackup(manifest.id, `its data fails the integrity check (${report.issues[0]?.message ?? 'unknown issue'})`);
  }
  for (const [space, expected] of Object.entries(manifest.spaces)) {
    if ((found[space] ?? 0) !== expected) {
      throw damagedBackup(manifest.id, `space ${space} holds ${found[space] ?? 0} records, the manifest says ${expected}`);
    }
  }
  for (const [space, n] of Object.entries(found)) {
    if (n > 0 && manifest.spaces[space] === undefined) throw damagedBackup(manifest.id, `space ${space} is not in the manifest`);
  }
  // Where point-in-time restore starts its replay, and what list reports: the part's own.
  if (journalSeq !== manifest.journalSeq) {
    throw damagedBackup(
      manifest.id,
      journalSeq === undefined
        ? `its manifest says journalSeq ${manifest.journalSeq}, and its data holds no ${JOURNAL_SPACE} entry`
        : manifest.journalSeq === undefined
          ? `its ${JOURNAL_SPACE} holds entries up to ${journalSeq}, and its manifest names no journalSeq`
          : `its manifest says journalSeq ${manifest.journalSeq}, and its ${JOURNAL_SPACE} holds entries up to ${journalSeq}`,
    );
  }
  // Every record one a write could have stored (a records part can be written by hand).
  await recordChecks.get(scratch)?.finish(scratch.driver, manifest);
  return report;
}

/** The journal's last entry, as backup-create.ts takes it from the copy it writes (`journalSeq`). */
function sqliteJournalSeq(db: Database.Database): number | undefined {
  const table = db.prepare('SELECT tbl FROM strata_spaces WHERE space = ?').pluck().get(JOURNAL_SPACE) as string | undefined;
  if (table === undefined) return undefined;
  const exists = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck().get(table) === 1;
  return exists ? journalSeqOfKey(db.prepare(`SELECT max(key) FROM ${table}`).pluck().get() as string | null) : undefined;
}

function sqliteCounts(db: Database.Database, at: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [space, table] of db.prepare('SELECT space, tbl FROM strata_spaces').raw(true).all() as Array<[string, string]>) {
    const exists = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck().get(table) === 1;
    out[space] = exists
      ? (db.prepare(`SELECT count(*) FROM ${table} WHERE expires_at IS NULL OR expires_at > ?`).pluck().get(at) as number)
      : 0;
  }
  return out;
}

/**
 * Puts the live store's records of `spaces` into the scratch copy in place of the backup's,
 * so the swap leaves them as they are. The migrator undoing a run keeps its live lease this
 * way: the backup's copy is an older lease (often of a process that is gone), which another
 * waiting migrator would otherwise take over between the swap and this process's renewal.
 */
export async function keepLiveSpaces(store: ImageStore, scratch: Scratch, spaces: readonly string[], now: number): Promise<void> {
  const live = bottomDriver(store);
  const liveSpaces = new Set(await live.spaces());
  const scratchSpaces = new Set(await scratch.driver.spaces());
  const ops: WriteOp[] = [];
  for (const space of spaces) {
    if (scratchSpaces.has(space)) {
      for (const r of await scratch.driver.scan(space, {}, now)) ops.push({ type: 'delete', space, key: r.key });
    }
    if (liveSpaces.has(space)) {
      for (const r of await live.scan(space, {}, now))
        ops.push({ type: 'put', space, key: r.key, value: r.value, expiresAt: r.expiresAt });
    }
  }
  if (ops.length > 0) await scratch.driver.batch(ops, now, { results: false });
}

/**
 * Replaces the live store's data with the scratch copy in one atomic step: an SQLite backup
 * into an SQLite store is swapped in by ATTACH + one transaction (user tables included);
 * anything else goes through `loadRecords` (mode 'replace').
 */
export async function swapScratch(store: ImageStore, scratch: Scratch, now: number): Promise<void> {
  const live = bottomDriver(store);
  if (scratch.file !== null && sqliteLocation(live) !== null) {
    await scratch.settle(); // a prepare hook's writes: checkpointed into the file
    const before = await cryptoIdentity(store, now);
    sqliteSwapFile(live, scratch.file, { mode: 'replace', userTables: true }, now);
    await refreshAfterLoad(store, now, before);
    return;
  }
  const image = await scratch.driver.openImage!(now);
  try {
    await loadRecords(store, image, { mode: 'replace', checkValues: false, now });
  } finally {
    await image.close();
  }
}
