/**
 * The portable export format, version 1 (documented for users in docs/export-format.md).
 *
 * A file is one gzip stream of UTF-8 NDJSON lines:
 *   1. the manifest:   {"format":"strata-export","version":1,"createdAt":...,"source":...,"values":...}
 *   2. per space, in the order meta.crypto, meta.encrypted, meta.collections, then user spaces
 *      (`kv.*`, `c.*`) by name: a header {"space":"c.tasks"} and one line per record
 *      {"k":key,"v":value,"ver":version,"c":createdAt,"u":updatedAt,"x":expiresAt|null}
 *      in ascending code-point order of the key (so a duplicated key is seen without memory);
 *   3. the trailer:    {"end":true,"records":total,"spaces":{"<space>":{"records":n,"sha256":hex}}}
 * The sha256 of a space covers the exact bytes of its record lines, each with its "\n".
 */
import { StrataError } from '../../errors.js';

export const FORMAT_NAME = 'strata-export';
export const FORMAT_VERSION = 1;

/** Longest line a reader accepts (a record's key and value together): bounds memory on hostile input. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Internal spaces that travel with user data, in file order. Other `meta.*` spaces (schedules, leases) stay behind. */
export const CRYPTO_SPACE_NAME = 'meta.crypto';
export const ENCRYPTED_SPACE_NAME = 'meta.encrypted';
export const SPECS_SPACE_NAME = 'meta.collections';
export const META_SPACES = [CRYPTO_SPACE_NAME, ENCRYPTED_SPACE_NAME, SPECS_SPACE_NAME] as const;

/** `stored`: values exactly as stored below the encryption layer (ciphertext stays ciphertext); `decrypted`: plaintext. */
export type ValuesForm = 'stored' | 'decrypted';

export interface Manifest {
  format: typeof FORMAT_NAME;
  version: typeof FORMAT_VERSION;
  /** ISO time the export started. */
  createdAt: string;
  /** The driver the export was taken from (`sqlite`, `file`, `memory`). */
  source: { driver: string };
  values: ValuesForm;
}

export interface SpaceTotals {
  records: number;
  sha256: string;
}

export interface Trailer {
  end: true;
  records: number;
  spaces: Record<string, SpaceTotals>;
}

/** One record as the format carries it, `value` as JSON text. */
export interface TransferRecord {
  space: string;
  key: string;
  value: string;
  version: number;
  createdAt: number;
  updatedAt: number;
  expiresAt: number | null;
  /** The line of the file it was read from (reader only). */
  line?: number;
}

/** Whether a space is carried by the format: user spaces and the three meta spaces above. */
export function isTransferSpace(space: string): boolean {
  return space.startsWith('kv.') || space.startsWith('c.') || (META_SPACES as readonly string[]).includes(space);
}

/** File order of spaces: the meta spaces first (a reader needs them before the records they describe). */
export function spaceRank(space: string): number {
  const meta = (META_SPACES as readonly string[]).indexOf(space);
  return meta >= 0 ? meta : META_SPACES.length;
}

/** A damaged or hostile file: always CORRUPT or BAD_INPUT, naming the line. */
export function badFile(
  code: 'CORRUPT' | 'BAD_INPUT' | 'VALIDATION_FAILED',
  line: number,
  message: string,
  extra: { cause?: unknown; details?: Record<string, unknown> } = {},
): StrataError {
  const where = line > 0 ? `line ${line} of the export file` : 'the export file';
  return new StrataError(code, `store.import: ${where}: ${message}`, {
    op: 'store.import',
    hint:
      code === 'VALIDATION_FAILED'
        ? 'fix the document in the source store and export again, or declare the collection without that schema for the import'
        : 'nothing was imported; export the source store again with store.export() / strata export',
    cause: extra.cause,
    details: { line, ...extra.details },
  });
}

/** The record line for `record` (without its newline). `value` is JSON text and is embedded as it is. */
export function recordLine(record: Omit<TransferRecord, 'space'>): string {
  return `{"k":${JSON.stringify(record.key)},"v":${record.value},"ver":${record.version},"c":${record.createdAt},"u":${record.updatedAt},"x":${record.expiresAt ?? 'null'}}`;
}
