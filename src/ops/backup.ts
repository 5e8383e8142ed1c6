/**
 * Backups: `store.backup()`, `store.restore()`, `store.backups.list/verify/prune()`.
 *
 * A backup is a directory-like group of objects in a `BackupTarget` (backup-target.ts):
 * `<id>/manifest.json` (backup-format.ts) and one gzip part: the SQLite file itself for
 * sqlite stores (VACUUM INTO from one read transaction of a second connection, so user
 * tables of SQL migrations are in it), or the NDJSON records of one point-in-time image
 * (`snapshotRecords`) for the file and memory drivers. Both are below the encryption layer:
 * encrypted values stay ciphertext. The manifest is written last; without it a backup does
 * not exist.
 *
 * Restore rebuilds the backup in a scratch store (every byte checked against the manifest's
 * sha256 sums: a damaged or truncated backup is CORRUPT and the live store is untouched),
 * then replaces the live data in one atomic step (backup-restore.ts `swapScratch`).
 *
 * Extension point for point-in-time restore: `restoreBackup(store, ref, { prepare })` runs
 * `prepare(scratch)` on the checked scratch copy before the swap; journal replay writes its
 * records and deletes there, so backup and replay commit together. `toTime` is refused here
 * (UNSUPPORTED) until the journal provides it.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { StrataError } from '../errors.js';
import { checkOptions } from '../codec/options.js';
import { parseDuration, type Duration } from '../codec/duration.js';
import { sqliteLocation } from '../drivers/sqlite.js';
import { CRYPTO_SPACE } from '../crypto/state.js';
import { bottomDriver, type ImageStore } from './image.js';
import { journalOnRestore } from './journal-open.js';
import { idTime, isBackupId, MANIFEST, parseManifest, type BackupManifest } from './backup-format.js';
import { localTarget, type BackupTarget } from './backup-target.js';
import { parseS3Url, s3Target } from './backup-s3.js';
import { progressCallback } from '../progress-callback.js';
import { createBackup, type BackupProgress } from './backup-create.js';
import { checkScratch, openScratch, swapScratch, type PrepareScratch } from './backup-restore.js';

export type { BackupTarget } from './backup-target.js';
export type { BackupManifest, BackupPart } from './backup-format.js';
export type { BackupProgress } from './backup-create.js';
export type { PrepareScratch, Scratch } from './backup-restore.js';
export { localTarget } from './backup-target.js';
export { s3Target, type S3TargetOptions } from './backup-s3.js';

export interface BackupOptions {
  /** A directory, an `s3://bucket/prefix?endpoint=...` URL, or a `BackupTarget`. @default `<store dir>/backups/<store file name>/` */
  to?: string | BackupTarget;
  /** gzip level, 1 (fastest) to 9 (smallest). @default 1 */
  gzipLevel?: number;
  onProgress?: (progress: BackupProgress) => void;
}

export interface BackupResult {
  id: string;
  /** Where the backup is: its directory for a local target, else `<target>/<id>`. */
  path: string;
  /** Bytes stored (compressed part and manifest). */
  bytes: number;
  /** `sha256:<hex>` of the manifest, which holds the sha256 of every part. */
  checksum: string;
  /** When the snapshot was taken. */
  at: Date;
  records: number;
  journalSeq?: number;
}

export interface BackupInfo extends BackupResult {
  driver: string;
  kind: BackupManifest['kind'];
  spaces: Record<string, number>;
}

/** A backup listed whose manifest is unreadable or damaged. */
export interface DamagedBackupInfo {
  id: string;
  path: string;
  damaged: true;
  reason: string;
}

export interface RestoreOptions {
  /** Where to look for a backup given by id. @default the store's default backup directory */
  dir?: string | BackupTarget;
  /** Check the backup and report what would be restored; change nothing. @default false */
  dryRun?: boolean;
  /**
   * Point-in-time restore (a store with a journal, see docs/journal.md): the backup plus the
   * journal replayed up to this time (a Date, epoch ms or an ISO 8601 string).
   */
  toTime?: Date | number | string;
  /** Called as the backup is decompressed and checked (uncompressed bytes so far). */
  onProgress?: (progress: CheckProgress) => void;
}

export interface CheckProgress {
  bytes: number;
  totalBytes: number;
}

export interface VerifyBackupOptions {
  dir?: string | BackupTarget;
  /** Called as the backup is decompressed and checked (uncompressed bytes so far). */
  onProgress?: (progress: CheckProgress) => void;
}

export interface RestoreResult {
  id: string;
  /** Records the store holds from the backup (on sqlite, live ones at the backup's time). */
  records: number;
  /** When the backup's snapshot was taken. */
  at: Date;
  dryRun: boolean;
  journalSeq?: number;
  /**
   * `true` when the restore changed the store's encryption state (a backup of another store,
   * or of this one before it held encrypted data): this process still has the old state in
   * memory, so close the store and open it again (with its keyring) before using it.
   */
  reopen: boolean;
}

export interface VerifyBackupResult {
  ok: true;
  id: string;
  at: Date;
  records: number;
  spaces: Record<string, number>;
  /** Records (and rows) the integrity check read. */
  checked: number;
}

export interface PruneOptions {
  dir?: string | BackupTarget;
  /** Keep the newest N backups. */
  keep?: number;
  /** Keep every backup younger than this (`'7d'`, ms). */
  maxAge?: Duration;
  /** Report what would go; delete nothing. @default false */
  dryRun?: boolean;
}

export interface PruneResult {
  deleted: string[];
  kept: string[];
}

const isTarget = (v: unknown): v is BackupTarget =>
  v !== null &&
  typeof v === 'object' &&
  ['put', 'get', 'list', 'delete', 'size'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function');

/** Where a store's backups go by default: `<dir>/backups/<file name>/` next to the store. */
export async function defaultBackupDir(store: ImageStore, op: string): Promise<string> {
  const driver = bottomDriver(store);
  const location = sqliteLocation(driver) ?? (await driver.stats()).location;
  if (location === undefined || location === ':memory:' || !driver.capabilities.persistent) {
    throw new StrataError('BAD_INPUT', `${op}: a ${driver.name} store has no directory of its own to keep backups in`, {
      op,
      hint:
        op === 'store.backup'
          ? "pass { to: 'path/to/backups' } (CLI: --to <dir>)"
          : "pass { dir: 'path/to/backups' } (CLI: --dir <dir>)",
    });
  }
  return join(dirname(location), 'backups', basename(location));
}

async function targetOf(store: ImageStore, given: unknown, op: string, option: string): Promise<BackupTarget> {
  if (given === undefined) return localTarget(await defaultBackupDir(store, op));
  if (typeof given === 'string' && given.startsWith('s3://')) return s3Target(parseS3Url(given));
  if (typeof given === 'string' && given !== '') return localTarget(given);
  if (isTarget(given)) return given;
  throw new StrataError('BAD_INPUT', `${op}: ${option} must be a directory path, an s3:// URL or a BackupTarget`, { op });
}

const pathIn = (target: BackupTarget, id: string): string => target.pathOf?.(id) ?? `${target.name}/${id}`;

async function readText(target: BackupTarget, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await target.get(name)) {
    size += (chunk as Buffer).length;
    if (size > 4 * 1024 * 1024) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readManifest(target: BackupTarget, id: string): Promise<BackupManifest> {
  const manifest = parseManifest(await readText(target, `${id}/${MANIFEST}`), id);
  if (manifest.id !== id) {
    throw new StrataError('CORRUPT', `backup ${id}: its manifest names backup ${manifest.id}`, {
      hint: 'keep each backup under the directory name it was written with',
    });
  }
  return manifest;
}

const notFound = (ref: string, where: string): StrataError =>
  new StrataError('NOT_FOUND', `no backup ${JSON.stringify(ref)} in ${where}`, {
    hint: 'list the backups with `strata backup list` (or store.backups.list()), and pass an id or a backup directory',
    details: { backup: ref },
  });

/** Finds a backup by id (in `dir` or the default directory) or by path (its directory or its manifest). */
async function resolveBackup(
  store: ImageStore,
  ref: unknown,
  dir: unknown,
  op: string,
): Promise<{ target: BackupTarget; id: string }> {
  if (typeof ref !== 'string' || ref === '') {
    throw new StrataError('BAD_INPUT', `${op}: pass a backup id or the path of a backup`, {
      op,
      hint: 'list them with `strata backup list`',
    });
  }
  if (dir === undefined && existsSync(ref)) {
    let path = resolve(ref);
    if (basename(path) === MANIFEST) path = dirname(path);
    if (!statSync(path).isDirectory() || !existsSync(join(path, MANIFEST))) throw notFound(ref, 'that path (no manifest.json)');
    if (!isBackupId(basename(path))) {
      throw new StrataError('BAD_INPUT', `${op}: ${path} is not named by its id, as a backup directory must be`, {
        op,
        hint: 'rename the directory to the "id" written in its manifest.json (e.g. 20261201T153012345Z-1a2b3c)',
        details: { backup: ref },
      });
    }
    return { target: localTarget(dirname(path)), id: basename(path) };
  }
  const target = await targetOf(store, dir, op, 'dir');
  if (!isBackupId(ref) || (await target.size(`${ref}/${MANIFEST}`)) === null) throw notFound(ref, target.name);
  return { target, id: ref };
}

function checkLevel(level: unknown, op: string): number {
  if (level === undefined) return 1;
  if (typeof level !== 'number' || !Number.isInteger(level) || level < 1 || level > 9) {
    throw new StrataError('BAD_INPUT', `${op}: gzipLevel must be a whole number from 1 to 9`, { op });
  }
  return level;
}

/** `store.backup(options)`. */
export async function backupStore(store: ImageStore, options: BackupOptions = {}, now = Date.now()): Promise<BackupResult> {
  const op = 'store.backup';
  checkOptions(options, ['to', 'gzipLevel', 'onProgress'], op);
  const level = checkLevel(options.gzipLevel, op);
  const onProgress = progressCallback<BackupProgress>(options.onProgress, op);
  const target = await targetOf(store, options.to, op, 'to');
  const created = await createBackup(store, {
    target,
    level,
    now,
    ...(onProgress ? { onProgress } : {}),
  });
  return resultOf(target, created.manifest, created.bytes);
}

function resultOf(target: BackupTarget, m: BackupManifest, bytes: number): BackupResult {
  return {
    id: m.id,
    path: pathIn(target, m.id),
    bytes,
    checksum: m.checksum,
    at: new Date(m.at),
    records: m.records,
    ...(m.journalSeq === undefined ? {} : { journalSeq: m.journalSeq }),
  };
}

/** `store.backups.list(options)`: newest first; damaged manifests are listed as such. */
export async function listBackups(
  store: ImageStore,
  options: { dir?: string | BackupTarget } = {},
): Promise<Array<BackupInfo | DamagedBackupInfo>> {
  const op = 'store.backups.list';
  checkOptions(options, ['dir'], op);
  const target = await targetOf(store, options.dir, op, 'dir');
  const out: Array<BackupInfo | DamagedBackupInfo> = [];
  for (const name of await target.list()) {
    const [id, file, ...more] = name.split('/');
    if (file !== MANIFEST || more.length > 0 || !isBackupId(id!)) continue;
    try {
      const m = await readManifest(target, id!);
      const bytes = (await target.size(name)) ?? 0;
      out.push({
        ...resultOf(target, m, bytes + m.parts.reduce((a, p) => a + p.bytes, 0)),
        driver: m.driver,
        kind: m.kind,
        spaces: m.spaces,
      });
    } catch (error) {
      if (!StrataError.is(error, 'CORRUPT') && !StrataError.is(error, 'UNSUPPORTED')) throw error;
      out.push({ id: id!, path: pathIn(target, id!), damaged: true, reason: error.message });
    }
  }
  return out.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** `store.backups.verify(idOrPath)`: rebuilds the backup in scratch space and checks integrity and counts. */
export async function verifyBackup(
  store: ImageStore,
  ref: string,
  options: VerifyBackupOptions = {},
): Promise<VerifyBackupResult> {
  const op = 'store.backups.verify';
  checkOptions(options, ['dir', 'onProgress'], op);
  const onProgress = progressCallback<CheckProgress>(options.onProgress, op);
  const { target, id } = await resolveBackup(store, ref, options.dir, op);
  const manifest = await readManifest(target, id);
  const scratch = await openScratch(store, target, manifest, onProgress);
  try {
    const report = await checkScratch(scratch);
    return {
      ok: true,
      id,
      at: new Date(manifest.at),
      records: manifest.records,
      spaces: manifest.spaces,
      checked: report.checked,
    };
  } finally {
    await scratch.dispose();
  }
}

/**
 * `store.restore(idOrPath, options)`, and with `prepare` the building block of
 * point-in-time restore (see the file header).
 */
export async function restoreBackup(
  store: ImageStore,
  ref: string,
  options: RestoreOptions & { prepare?: PrepareScratch } = {},
  now = Date.now(),
): Promise<RestoreResult> {
  const op = 'store.restore';
  checkOptions(options, ['dir', 'dryRun', 'toTime', 'prepare', 'onProgress'], op);
  const onProgress = progressCallback<CheckProgress>(options.onProgress, op);
  if (options.toTime !== undefined) {
    throw new StrataError('UNSUPPORTED', `${op}: toTime needs the change journal, which this store does not keep`, {
      op,
      hint: 'restore a backup by id or path without toTime',
    });
  }
  if (options.dryRun !== undefined && typeof options.dryRun !== 'boolean') {
    throw new StrataError('BAD_INPUT', `${op}: dryRun must be a boolean`, { op });
  }
  const { target, id } = await resolveBackup(store, ref, options.dir, op);
  const manifest = await readManifest(target, id);
  const scratch = await openScratch(store, target, manifest, onProgress);
  try {
    await options.prepare?.(scratch);
    if (options.dryRun !== true) {
      const restore = { from: options.prepare === undefined ? manifest.at : null, seq: manifest.journalSeq ?? 0 };
      await journalOnRestore(bottomDriver(store), scratch.driver, restore, now);
    }
    const before = await cryptoState(store, now);
    const records = options.dryRun === true ? manifest.records : await swapScratch(store, scratch, now);
    const after = options.dryRun === true ? before : await cryptoState(store, now);
    return {
      id,
      records,
      reopen: before !== after,
      at: new Date(manifest.at),
      dryRun: options.dryRun === true,
      ...(manifest.journalSeq === undefined ? {} : { journalSeq: manifest.journalSeq }),
    };
  } finally {
    await scratch.dispose();
  }
}

/**
 * What the encryption layer of this process read at open: the store id and key checks, and
 * whether a layer is there at all. A restore that changes it leaves that layer stale.
 */
async function cryptoState(store: ImageStore, now: number): Promise<string> {
  const driver = bottomDriver(store);
  const layered = store.driver.capabilities.encryption === true;
  const records = (await driver.spaces()).includes(CRYPTO_SPACE) ? await driver.scan(CRYPTO_SPACE, {}, now) : [];
  return JSON.stringify([layered || records.length === 0, records.map((r) => [r.key, r.value])]);
}

/** A backup without its manifest this old is a leftover of a crash, never one in progress. */
const INCOMPLETE_AFTER_MS = 3600_000;

/** `store.backups.prune(options)`: keeps the newest `keep` and those younger than `maxAge`; deletes the rest. */
export async function pruneBackups(store: ImageStore, options: PruneOptions, now = Date.now()): Promise<PruneResult> {
  const op = 'store.backups.prune';
  checkOptions(options, ['dir', 'keep', 'maxAge', 'dryRun'], op);
  if (options === undefined || (options.keep === undefined && options.maxAge === undefined)) {
    throw new StrataError('BAD_INPUT', `${op}: say what to keep`, { op, hint: "pass { keep: 7 } and/or { maxAge: '30d' }" });
  }
  if (
    options.keep !== undefined &&
    (typeof options.keep !== 'number' || !Number.isSafeInteger(options.keep) || options.keep < 1)
  ) {
    throw new StrataError('BAD_INPUT', `${op}: keep must be a whole number >= 1`, { op });
  }
  if (options.dryRun !== undefined && typeof options.dryRun !== 'boolean') {
    throw new StrataError('BAD_INPUT', `${op}: dryRun must be a boolean`, { op });
  }
  const maxAge = options.maxAge === undefined ? undefined : parseDuration(options.maxAge, 'maxAge');
  const target = await targetOf(store, options.dir, op, 'dir');
  const listed = await listBackups(store, { dir: target });
  const deleted: string[] = [];
  const kept: string[] = [];
  // `keep` counts backups that can be restored: damaged ones never take the place of a good
  // one. One dated after now (the clock was ahead, or went back) is kept and not counted, so
  // it never pushes out the backups taken since.
  let good = 0;
  let oldestKept: string | undefined;
  const verdicts = listed.map((b) => {
    const damaged = 'damaged' in b;
    const at = damaged ? idTime(b.id) : b.at.getTime();
    const young = maxAge !== undefined && now - at < maxAge;
    if (!(at <= now)) return 'keep';
    if (damaged) return young ? 'keep' : 'later';
    const counted = options.keep !== undefined && good < options.keep;
    good++;
    if (counted) oldestKept = b.id;
    return counted || young ? 'keep' : 'delete';
  });
  listed.forEach((b, index) => {
    const verdict = verdicts[index];
    // A damaged backup newer than the oldest good one kept stays (it may be a newer format).
    const keep = verdict === 'keep' || (verdict === 'later' && oldestKept !== undefined && b.id > oldestKept);
    (keep ? kept : deleted).push(b.id);
  });
  const names = await target.list();
  // Leftovers of a backup that died before its manifest: gone after an hour.
  const complete = new Set(listed.map((b) => b.id));
  const leftovers = [...new Set(names.map((n) => n.split('/')[0]!))].filter(
    (id) => isBackupId(id) && !complete.has(id) && now - idTime(id) > INCOMPLETE_AFTER_MS,
  );
  deleted.push(...leftovers);
  if (options.dryRun !== true) {
    await target.clean?.();
    for (const id of deleted) {
      // The manifest first: a backup half deleted is then incomplete, never restorable.
      await target.delete(`${id}/${MANIFEST}`);
      for (const name of names) if (name.startsWith(`${id}/`) && name !== `${id}/${MANIFEST}`) await target.delete(name);
    }
  }
  return { deleted, kept };
}
