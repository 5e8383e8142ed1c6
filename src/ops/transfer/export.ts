import { resolve } from 'node:path';
import { checkOptions } from '../../codec/options.js';
import { StrataError } from '../../errors.js';
import type { Driver } from '../../drivers/driver.js';
import { compareStrings } from '../../query/match.js';
import { CRYPTO_SPACE_NAME, ENCRYPTED_SPACE_NAME, isTransferSpace, spaceRank } from './format.js';
import { ExportWriter } from './writer.js';
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

const PAGE = 2000;
const PROGRESS_EVERY = 5000;

/** Every record of `space`, in key order, in pages (one page in memory at a time). */
async function* pages(driver: Driver, space: string, now: number): AsyncGenerator<import('../../drivers/driver.js').StoredRecord[]> {
  let after: string | undefined;
  for (;;) {
    const page = await driver.scan(space, after === undefined ? { limit: PAGE } : { limit: PAGE, after: { key: after } }, now);
    if (page.length > 0) yield page;
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.key;
  }
}

/** store.export: see README "Export and import" and docs/export-format.md. */
export async function exportStore(ctx: TransferContext, path: unknown, options: ExportOptions = {}): Promise<ExportReport> {
  checkOptions(options, ['decrypt', 'onProgress'], 'store.export');
  if (typeof path !== 'string' || path.length === 0) {
    throw new StrataError('BAD_INPUT', 'store.export: the path must be a non-empty string', { op: 'store.export', hint: "e.g. store.export('app-export.strata')" });
  }
  if (options.decrypt !== undefined && typeof options.decrypt !== 'boolean') {
    throw new StrataError('BAD_INPUT', 'store.export: decrypt must be a boolean', { op: 'store.export' });
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new StrataError('BAD_INPUT', 'store.export: onProgress must be a function', { op: 'store.export' });
  }
  const decrypt = options.decrypt === true;
  if (decrypt && ctx.crypto !== undefined && ctx.crypto.sealer === null && ctx.crypto.encryptedSpaces().size > 0) {
    throw new StrataError('BAD_INPUT', 'store.export: decrypt needs the keyring, and this store was opened without one', {
      op: 'store.export',
      hint: 'open the store with openStore({ encryption: { keys } }) (the CLI reads STRATA_KEYS or --keys-file)',
    });
  }
  const now = ctx.now();
  // Decrypted: read through the store's stack, which opens ciphertext and checks MACs. Stored:
  // read below the encryption layer, so what leaves the store is what it keeps.
  const source = decrypt ? ctx.driver : ctx.raw;
  const spaces = (await ctx.raw.spaces())
    .filter(isTransferSpace)
    .filter((s) => !decrypt || (s !== CRYPTO_SPACE_NAME && s !== ENCRYPTED_SPACE_NAME))
    .sort((a, b) => spaceRank(a) - spaceRank(b) || compareStrings(a, b));
  let total = 0;
  for (const space of spaces) total += await ctx.raw.count(space, {}, now);
  const target = resolve(path);
  const writer = await ExportWriter.create(target, { driver: ctx.raw.name, values: decrypt ? 'decrypted' : 'stored', createdAt: now });
  let done = 0;
  try {
    for (const space of spaces) {
      await writer.space(space);
      for await (const page of pages(source, space, now)) {
        for (const r of page) {
          await writer.record({ key: r.key, value: r.value, version: r.version, createdAt: r.createdAt, updatedAt: r.updatedAt, expiresAt: r.expiresAt });
        }
        const before = done;
        done += page.length;
        if (options.onProgress && Math.floor(before / PROGRESS_EVERY) !== Math.floor(done / PROGRESS_EVERY)) {
          options.onProgress({ phase: 'write', records: done, total: Math.max(total, done) });
        }
      }
    }
    const written = await writer.finish();
    options.onProgress?.({ phase: 'write', records: done, total: done });
    const counts: Record<string, number> = {};
    for (const [space, totals] of Object.entries(written.spaces)) counts[space] = totals.records;
    return { path: written.path, bytes: written.bytes, records: written.records, spaces: counts, values: decrypt ? 'decrypted' : 'stored' };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
