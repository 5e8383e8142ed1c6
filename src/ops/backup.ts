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
 * Restore rebuilds the backup in a scratch store and runs every check `verify` runs on it
 * (every byte against the manifest's sha256 sums, then integrity and counts: a damaged,
 * truncated or inconsistent backup is CORRUPT and the live store is untouched), then replaces
 * the live data in one atomic step (backup-restore.ts `swapScratch`).
 *
 * Extension point for point-in-time restore: `restoreBackup(store, ref, { prepare })` runs
 * `prepare(scratch)` on the checked scratch copy before the swap; journal replay writes its
 * records and deletes there, so backup and replay commit together. `toTime` itself goes to
 * pitr-store.ts (`store.restore` routes it there), never here.
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
import { checkScratch, keepLiveSpaces, openScratch, swapScratch, type PrepareScratch, type Scratch } from './backup-restore.js';
import { restorePointsInUse } from './migrate-restore.js';

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

/** The options `store.restore` takes; `restoreBackup` also takes Strata's own hooks. */
export const RESTORE_OPTIONS = ['dir', 'dryRun', 'toTime', 'onProgress'] as const;

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

async function targetOf(store: ImageStore, given: unknown, op: string, option: 'to' | 'dir'): Promise<BackupTarget> {
  if (given === undefined) return localTarget(await defaultBackupDir(store, op));
  if (typeof given === 'string' && given.startsWith('s3://')) return s3Target(parseS3Url(given));
  if (typeof given === 'string' && given !== '') return localTarget(given);
  if (isTarget(given)) return given;
  throw new StrataError('BAD_INPUT', `${op}: ${option} must be a directory path, an s3:// URL or a BackupTarget`, {
    op,
    hint: `pass { ${option}: 'path/to/backups' } or an s3://bucket/prefix URL (CLI: --${option} <dir>)`,
  });
}

/** `dryRun` of restore and prune: a boolean, so that `'false'` never runs for real. */
function checkDryRun(dryRun: unknown, op: string): void {
  if (dryRun === undefined || typeof dryRun === 'boolean') return;
  throw new StrataError('BAD_INPUT', `${op}: dryRun must be a boolean`, {
    op,
    hint: 'pass dryRun: true or false (CLI: --dry-run)',
  });
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

/** The manifest stored under `<id>/`, checked, whatever backup it names. */
async function manifestUnder(target: BackupTarget, id: string): Promise<BackupManifest> {
  return parseManifest(await readText(target, `${id}/${MANIFEST}`), id);
}

/**
 * An intact backup copied under another backup's id. Not CORRUPT: nothing in it is damaged,
 * and a CORRUPT one is what `prune` may delete. Refused, since an id is what restore and
 * point-in-time restore go by: two names for one backup would make them disagree.
 */
function misnamed(target: BackupTarget, id: string, named: string, op: string): StrataError {
  const where = pathIn(target, id);
  return new StrataError('BAD_INPUT', `${op}: ${where} holds backup ${named}, not ${id}: rename it to ${named}`, {
    op,
    hint: `rename ${where} to ${named} (the id in its manifest.json), then restore it by that id or path`,
    details: { backup: id, manifestId: named },
  });
}

/** The manifest of backup `id`, which must be stored under its own id. */
async function readManifest(target: BackupTarget, id: string, op: string): Promise<BackupManifest> {
  const manifest = await manifestUnder(target, id);
  if (manifest.id !== id) throw misnamed(target, id, manifest.id, op);
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
      hint: 'list them with store.backups.list() (CLI: strata backup list)',
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
    throw new StrataError('BAD_INPUT', `${op}: gzipLevel must be a whole number from 1 to 9`, {
      op,
      hint: 'pass gzipLevel: 1 (fastest) to 9 (smallest) (CLI: --gzip-level <n>)',
    });
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

function resultOf(target: BackupTarget, m: BackupManifest, bytes: number, id = m.id): BackupResult {
  return {
    id,
    path: pathIn(target, id),
    bytes,
    checksum: m.checksum,
    at: new Date(m.at),
    records: m.records,
    ...(m.journalSeq === undefined ? {} : { journalSeq: m.journalSeq }),
  };
}

/** A backup as `list` finds it, and whether restore takes it under the name it is stored by. */
export interface ScannedBackup {
  info: BackupInfo | DamagedBackupInfo;
  /** False for a damaged one (a newer format included) and for one under another backup's id. */
  restorable: boolean;
}

/**
 * One backup of a listing, or `null` when it is gone: another process (a prune) may delete
 * it between the listing and this read, which is no error, only a backup fewer.
 */
async function scanOne(target: BackupTarget, name: string, id: string): Promise<ScannedBackup | null> {
  let m: BackupManifest;
  try {
    m = await manifestUnder(target, id);
  } catch (error) {
    if ((await target.size(name)) === null) return null;
    if (!StrataError.is(error, 'CORRUPT') && !StrataError.is(error, 'UNSUPPORTED')) throw error;
    return { info: { id, path: pathIn(target, id), damaged: true, reason: error.message }, restorable: false };
  }
  const bytes = await target.size(name);
  if (bytes === null) return null;
  // Listed under the name it is stored by: that is what restore, verify and prune are given.
  const info = {
    ...resultOf(target, m, bytes + m.parts.reduce((a, p) => a + p.bytes, 0), id),
    driver: m.driver,
    kind: m.kind,
    spaces: m.spaces,
  };
  return { info, restorable: m.id === id };
}

/** Every backup of `target`, newest first. */
async function scanBackups(target: BackupTarget): Promise<ScannedBackup[]> {
  const out: ScannedBackup[] = [];
  for (const name of await target.list()) {
    const [id, file, ...more] = name.split('/');
    if (file !== MANIFEST || more.length > 0 || !isBackupId(id!)) continue;
    const scanned = await scanOne(target, name, id!);
    if (scanned !== null) out.push(scanned);
  }
  return out.sort((a, b) => (a.info.id < b.info.id ? 1 : a.info.id > b.info.id ? -1 : 0));
}

/** The backups of `dir` (default: the store's backup directory), newest first; for point-in-time restore. */
export async function scanBackupDir(store: ImageStore, dir: unknown, op: string): Promise<ScannedBackup[]> {
  return scanBackups(await targetOf(store, dir, op, 'dir'));
}

/** `store.backups.list(options)`: newest first; damaged manifests are listed as such. */
export async function listBackups(
  store: ImageStore,
  options: { dir?: string | BackupTarget } = {},
): Promise<Array<BackupInfo | DamagedBackupInfo>> {
  const op = 'store.backups.list';
  checkOptions(options, ['dir'], op);
  return (await scanBackupDir(store, options.dir, op)).map((b) => b.info);
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
  const manifest = await readManifest(target, id, op);
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
  options: RestoreOptions & { prepare?: PrepareScratch; keepLive?: readonly string[] } = {},
  now = Date.now(),
): Promise<RestoreResult> {
  const op = 'store.restore';
  checkOptions(options, [...RESTORE_OPTIONS, 'prepare', 'keepLive'], op);
  const onProgress = progressCallback<CheckProgress>(options.onProgress, op);
  if (options.toTime !== undefined) {
    // Only a caller inside Strata gets here: store.restore hands toTime to pitr-store.ts.
    throw new StrataError('UNSUPPORTED', `${op}: restoreBackup does not replay the journal; toTime is not taken here`, {
      op,
      hint: 'call store.restore(backup, { toTime }) (CLI: strata restore <backup> --to-time <time>)',
    });
  }
  checkDryRun(options.dryRun, op);
  const dryRun = options.dryRun === true;
  const { target, id } = await resolveBackup(store, ref, options.dir, op);
  const manifest = await readManifest(target, id, op);
  const scratch = await openScratch(store, target, manifest, onProgress);
  try {
    // What verify checks, before the hook changes the copy: checksums only prove the bytes are
    // the manifest's, and anyone can recompute them for a part whose records it does not count.
    await checkScratch(scratch);
    await options.prepare?.(scratch);
    if (options.keepLive !== undefined && !dryRun) await keepLiveSpaces(store, scratch, options.keepLive, now);
    const reopen = dryRun ? false : await swapIn(store, scratch, options.prepare === undefined, now);
    return {
      id,
      // The backup's, as a dry run reports it: what the swap loads also holds Strata's own marks
      // (and after a prepare the replayed records), a number that differs between drivers.
      records: manifest.records,
      reopen,
      at: new Date(manifest.at),
      dryRun,
      ...(manifest.journalSeq === undefined ? {} : { journalSeq: manifest.journalSeq }),
    };
  } finally {
    await scratch.dispose();
  }
}

/**
 * Replaces the live data with the checked scratch copy; true when that changed the store's
 * encryption state (the caller must reopen). `plain`: a restore without a `prepare` hook,
 * which marks itself in the journal (a hook marks its own restore).
 */
async function swapIn(store: ImageStore, scratch: Scratch, plain: boolean, now: number): Promise<boolean> {
  const m = scratch.manifest;
  const restore = { from: plain ? m.at : null, seq: m.journalSeq ?? 0 };
  await journalOnRestore(bottomDriver(store), scratch.driver, restore, now);
  const before = await cryptoState(store, now);
  await swapScratch(store, scratch, now);
  return before !== (await cryptoState(store, now));
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

interface PruneRules {
  keep?: number;
  maxAge?: number;
}

function pruneRules(options: PruneOptions, op: string): PruneRules {
  if (options === undefined || (options.keep === undefined && options.maxAge === undefined)) {
    throw new StrataError('BAD_INPUT', `${op}: say what to keep`, {
      op,
      hint: "pass { keep: 7 } and/or { maxAge: '30d' } (CLI: --keep 7 and/or --max-age 30d)",
    });
  }
  const { keep } = options;
  if (keep !== undefined && (typeof keep !== 'number' || !Number.isSafeInteger(keep) || keep < 1)) {
    throw new StrataError('BAD_INPUT', `${op}: keep must be a whole number >= 1`, { op, hint: 'pass keep: 7 (CLI: --keep 7)' });
  }
  checkDryRun(options.dryRun, op);
  return {
    ...(keep === undefined ? {} : { keep }),
    ...(options.maxAge === undefined ? {} : { maxAge: parseDuration(options.maxAge, 'maxAge') }),
  };
}

/**
 * The ids `prune` keeps. `keep` counts restorable backups only, so a backup restore refuses
 * (damaged, a newer format, or under another id) never takes the place of one that restores.
 * Such a backup stays while younger than `maxAge`, while newer than the oldest restorable one
 * kept, or while fewer than `keep` restorable ones exist: then nothing needs its room, and a
 * newer version of Strata may restore it, so deleting it would lose it for nothing. A backup
 * dated after now (the clock was ahead, or went back) is kept and not counted, so it never
 * pushes out the backups taken since.
 */
function retained(scanned: readonly ScannedBackup[], rules: PruneRules, now: number): Set<string> {
  const kept = new Set<string>();
  const unreadable: string[] = [];
  let restorable = 0;
  let oldestCounted: string | undefined;
  for (const { info, restorable: takes } of scanned) {
    const at = 'damaged' in info ? idTime(info.id) : info.at.getTime();
    const young = rules.maxAge !== undefined && now - at < rules.maxAge;
    if (!(at <= now) || (!takes && young)) kept.add(info.id);
    else if (!takes) unreadable.push(info.id);
    else {
      const counted = rules.keep !== undefined && restorable < rules.keep;
      restorable++;
      if (counted) oldestCounted = info.id;
      if (counted || young) kept.add(info.id);
    }
  }
  const roomLeft = rules.keep !== undefined && restorable < rules.keep;
  for (const id of unreadable) if (roomLeft || (oldestCounted !== undefined && id > oldestCounted)) kept.add(id);
  return kept;
}

/** Ids of backups that died before their manifest (an hour or more ago): nothing else removes them. */
function leftovers(names: readonly string[], scanned: readonly ScannedBackup[], now: number): string[] {
  const complete = new Set(scanned.map((b) => b.info.id));
  return [...new Set(names.map((n) => n.split('/')[0]!))].filter(
    (id) => isBackupId(id) && !complete.has(id) && now - idTime(id) > INCOMPLETE_AFTER_MS,
  );
}

async function deleteBackups(target: BackupTarget, ids: readonly string[], names: readonly string[]): Promise<void> {
  for (const id of ids) {
    // The manifest first: a backup half deleted is then incomplete, never restorable.
    await target.delete(`${id}/${MANIFEST}`);
    for (const name of names) if (name.startsWith(`${id}/`) && name !== `${id}/${MANIFEST}`) await target.delete(name);
  }
}

/** `store.backups.prune(options)`: keeps the newest `keep` and those younger than `maxAge`; deletes the rest. */
export async function pruneBackups(store: ImageStore, options: PruneOptions, now = Date.now()): Promise<PruneResult> {
  const op = 'store.backups.prune';
  checkOptions(options, ['dir', 'keep', 'maxAge', 'dryRun'], op);
  const rules = pruneRules(options, op);
  const target = await targetOf(store, options.dir, op, 'dir');
  const scanned = await scanBackups(target);
  const keep = retained(scanned, rules, now);
  // The restore point of a migration run that did not finish: without it the run cannot be undone.
  for (const id of await restorePointsInUse(store)) keep.add(id);
  const kept = scanned.filter((b) => keep.has(b.info.id)).map((b) => b.info.id);
  const deleted = scanned.filter((b) => !keep.has(b.info.id)).map((b) => b.info.id);
  const names = await target.list();
  deleted.push(...leftovers(names, scanned, now));
  if (options.dryRun !== true) {
    // A killed backup's partial part is never listed, so nothing else would remove it.
    await target.clean?.();
    await deleteBackups(target, deleted, names);
  }
  return { deleted, kept };
}
