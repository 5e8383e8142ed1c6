import { progressCallback } from '../../progress-callback.js';
import { readdirSync, realpathSync, rmSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { sqliteLocation } from '../../drivers/sqlite.js';
import { checkOptions } from '../../codec/options.js';
import { StrataError } from '../../errors.js';
import type { RawRecord } from '../../drivers/driver.js';
import { snapshotRecords } from '../image.js';
import { removeAtExit } from '../backup-target.js';
import {
  CRYPTO_SPACE_NAME,
  ENCRYPTED_SPACE_NAME,
  SPECS_SPACE_NAME,
  isTransferSpace,
  recordLine,
  type TransferRecord,
} from './format.js';
import { ExportWriter, type WrittenExport } from './writer.js';
import type { TransferContext, TransferProgress } from './context.js';

export interface ExportOptions {
  /**
   * `true`: write values decrypted (plain text; the manifest says `"values":"decrypted"`), so a
   * store without this keyring can import them. Needs the keyring. @default false: values exactly
   * as stored, ciphertext and MACs included, with the store's encryption record.
   */
  decrypt?: boolean;
  /** Called as records are written. */
  onProgress?: (progress: TransferProgress) => void;
}

export interface ExportReport {
  path: string;
  /** Bytes of the file. */
  bytes: number;
  records: number;
  /** Records per space (kv.<name>, c.<name>, meta.*). */
  spaces: Record<string, number>;
  values: 'stored' | 'decrypted';
}

const PROGRESS_EVERY = 5000;
/** Times an export starts again when a collection or encryption declaration changed while it ran. */
const ATTEMPTS = 5;

const TRANSFER_META: readonly string[] = [CRYPTO_SPACE_NAME, ENCRYPTED_SPACE_NAME, SPECS_SPACE_NAME];

/** How a record's value goes into the file: as stored, or opened by the store's encryption layer. */
function valueReader(ctx: TransferContext, decrypt: boolean): (r: RawRecord) => string {
  const layer = ctx.crypto;
  if (!decrypt || layer === undefined) return (r) => r.value;
  return (r) => {
    const spec = layer.specOf(r.space);
    if (r.space === CRYPTO_SPACE_NAME || (spec === undefined && !layer.codec.mac)) return r.value;
    return layer.codec.decode(r.space, r.key, r.value, r.expiresAt, spec);
  };
}

class Changed extends Error {}

/**
 * One attempt: the meta spaces are read first (a reader needs them before the records they
 * describe), then every user space from one consistent snapshot; the snapshot's own meta
 * records (last, in name order) must equal what was written, else the attempt is `Changed`.
 */
async function exportOnce(
  ctx: TransferContext,
  target: string,
  decrypt: boolean,
  onProgress: ExportOptions['onProgress'],
): Promise<WrittenExport> {
  const now = ctx.now();
  const value = valueReader(ctx, decrypt);
  /** A record as the file holds it: its space is the section it is in. */
  const exported = (r: RawRecord): Omit<TransferRecord, 'space'> => ({
    key: r.key,
    value: value(r),
    version: r.version,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    expiresAt: r.expiresAt,
  });
  const metaSpaces = TRANSFER_META.filter((s) => !decrypt || s === SPECS_SPACE_NAME);
  const image = await snapshotRecords(ctx.raw, { now });
  const done = removeAtExit(() => removeOwnTemps(target));
  const writer = await ExportWriter.create(target, {
    driver: ctx.raw.name,
    values: decrypt ? 'decrypted' : 'stored',
    createdAt: now,
  }).catch(async (error: unknown) => {
    done();
    await image.close();
    throw error;
  });
  try {
    const written = new Map<string, string>();
    for (const space of metaSpaces) {
      const records = await ctx.raw.scan(space, {}, now);
      if (records.length === 0) continue;
      await writer.space(space);
      for (const r of records) {
        const record = exported({ ...r, space });
        written.set(`${space}\u0000${r.key}`, recordLine(record));
        await writer.record(record);
      }
    }
    let space: string | null = null;
    let done = 0;
    let seen = 0;
    for await (const r of image) {
      if (r.space.startsWith('meta.')) {
        if (!metaSpaces.includes(r.space)) continue;
        const line = recordLine(exported(r));
        if (written.get(`${r.space}\u0000${r.key}`) !== line) throw new Changed();
        seen++;
        continue;
      }
      if (!isTransferSpace(r.space)) continue;
      if (r.space !== space) {
        space = r.space;
        await writer.space(space);
      }
      await writer.record(exported(r));
      done++;
      if (onProgress !== undefined && done % PROGRESS_EVERY === 0) onProgress({ phase: 'write', records: done, total: null });
    }
    if (seen !== written.size) throw new Changed();
    const result = await writer.finish();
    onProgress?.({ phase: 'write', records: done, total: done });
    return result;
  } catch (error) {
    await writer.abort();
    throw error;
  } finally {
    done();
    await image.close();
  }
}

/**
 * The temp files this process is writing for `target` (`.<name>.<pid>.<time>.tmp`, see
 * ExportWriter), removed when the process exits mid-export: `process.exit` (the CLI's Ctrl-C)
 * runs no `abort()`. Synchronous, as an 'exit' handler must be.
 */
function removeOwnTemps(target: string): void {
  const prefix = `.${basename(target)}.${process.pid}.`;
  for (const name of readdirSync(dirname(target))) {
    if (name.startsWith(prefix) && name.endsWith('.tmp')) rmSync(join(dirname(target), name), { force: true });
  }
}

/** store.export: see README "Export and import" and docs/export-format.md. */
export async function exportStore(ctx: TransferContext, path: unknown, options: ExportOptions = {}): Promise<ExportReport> {
  checkOptions(options, ['decrypt', 'onProgress'], 'store.export');
  if (typeof path !== 'string' || path.length === 0) {
    throw new StrataError('BAD_INPUT', 'store.export: the path must be a non-empty string', {
      op: 'store.export',
      hint: "e.g. store.export('app-export.strata') (CLI: `strata export app-export.strata`)",
    });
  }
  if (options.decrypt !== undefined && typeof options.decrypt !== 'boolean') {
    throw new StrataError('BAD_INPUT', 'store.export: decrypt must be a boolean', { op: 'store.export' });
  }
  const onProgress = progressCallback<TransferProgress>(options.onProgress, 'store.export');
  const decrypt = options.decrypt === true;
  if (decrypt && ctx.crypto !== undefined && ctx.crypto.sealer === null && ctx.crypto.encryptedSpaces().size > 0) {
    throw new StrataError('BAD_INPUT', 'store.export: decrypt needs the keyring, and this store was opened without one', {
      op: 'store.export',
      hint: 'open the store with openStore({ encryption: { keys } }) (the CLI reads STRATA_KEYS or --keys-file)',
    });
  }
  const target = resolve(path);
  await refuseStoreFiles(ctx, target);
  for (let attempt = 1; ; attempt++) {
    try {
      const written = await exportOnce(ctx, target, decrypt, onProgress);
      const counts: Record<string, number> = {};
      for (const [space, totals] of Object.entries(written.spaces)) counts[space] = totals.records;
      return {
        path: written.path,
        bytes: written.bytes,
        records: written.records,
        spaces: counts,
        values: decrypt ? 'decrypted' : 'stored',
      };
    } catch (error) {
      if (!(error instanceof Changed)) throw exportError(error, target);
      if (attempt >= ATTEMPTS) {
        throw new StrataError('CONFLICT', 'store.export: collection or encryption declarations kept changing during the export', {
          op: 'store.export',
          hint: 'run the export again when no process is declaring collections',
        });
      }
    }
  }
}

/** `path` with its directory's symlinks resolved (as rename resolves them); as given when the directory does not exist. */
function realPath(path: string): string {
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return path;
  }
}

/**
 * The export file is renamed into place: over the store's own file (or its -wal, or into the
 * file driver's directory) it would replace the store with the export. Refused up front.
 */
async function refuseStoreFiles(ctx: TransferContext, target: string): Promise<void> {
  const sqlite = sqliteLocation(ctx.raw);
  const location = sqlite ?? (await ctx.raw.stats().catch(() => ({ location: undefined }))).location;
  if (location === undefined || location === ':memory:' || !ctx.raw.capabilities.persistent) return;
  const at = realPath(target);
  const own =
    sqlite !== null
      ? ['', '-wal', '-shm', '-journal'].some((suffix) => realPath(`${resolve(location)}${suffix}`) === at)
      : (() => {
          let dir = resolve(location);
          try {
            dir = realpathSync(dir);
          } catch {
            // Not there (yet): compared as it is.
          }
          const inside = relative(dir, at);
          return inside === '' || (!inside.startsWith('..') && !isAbsolute(inside));
        })();
  if (!own) return;
  throw new StrataError(
    'BAD_INPUT',
    sqlite !== null
      ? `store.export: ${target} is one of the store's own files: the export would replace the store; nothing was written`
      : `store.export: ${target} is inside the store's directory, which holds only the store's own files; nothing was written`,
    {
      op: 'store.export',
      hint: 'give a path outside the store, e.g. store.export("app-export.strata") (CLI: `strata export app-export.strata`)',
      details: { path: target, store: location },
    },
  );
}

/** A missing directory or a path that cannot be written is the caller's to fix. */
function exportError(error: unknown, path: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new StrataError('NOT_FOUND', `store.export: the directory of ${path} does not exist`, {
      op: 'store.export',
      cause: error,
      hint: 'create the directory first, or give another path',
    });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EISDIR' || code === 'EROFS') {
    return new StrataError('BAD_INPUT', `store.export: cannot write ${path} (${code})`, {
      op: 'store.export',
      cause: error,
      hint: 'give a path in a directory you can write',
    });
  }
  return error;
}
