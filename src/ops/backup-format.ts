import { createHash, randomBytes } from 'node:crypto';
import { StrataError } from '../errors.js';
import { parseExternalJson } from '../codec/json.js';

/**
 * The backup manifest, `<id>/manifest.json`: what the backup holds and how to check it.
 * It carries its own checksum (`checksum`: sha256 of the manifest's JSON without that
 * field, keys in the order written), so a damaged manifest is CORRUPT, never believed.
 *
 * Parts (`parts[]`), each gzip-compressed:
 * - kind `sqlite-file`: `store.db.gz`, the SQLite file as `VACUUM INTO` wrote it from one
 *   read transaction (every table, user tables of SQL migrations included);
 * - kind `records`: `records.ndjson.gz`, one JSON object per line
 *   `{ space, key, value, version, createdAt, updatedAt, expiresAt }`, values as stored.
 * Each part has `sha256` of its compressed bytes and `rawSha256` of the uncompressed ones.
 */
export const BACKUP_FORMAT = 'strata-backup/1';
export const MANIFEST = 'manifest.json';
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface BackupPart {
  name: string;
  bytes: number;
  sha256: string;
  rawBytes: number;
  rawSha256: string;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  id: string;
  /** ISO time the snapshot was taken (also `at`, epoch ms). */
  createdAt: string;
  at: number;
  /** Name of the driver backed up (`sqlite`, `file`, `memory`). */
  driver: string;
  kind: 'sqlite-file' | 'records';
  /** Records live at `at`, per space (declared empty spaces: 0). */
  spaces: Record<string, number>;
  records: number;
  /** Highest sequence number of the change journal (`meta.journal`), when the store has one. */
  journalSeq?: number;
  parts: BackupPart[];
  checksum: string;
}

const ID = /^\d{8}T\d{9}Z-[0-9a-f]{6}$/;

/** The space the change journal keeps its entries in (key: 16-digit sequence number). */
export const JOURNAL_SPACE = 'meta.journal';

/** The sequence number a journal key names, or undefined: `journalSeq` is the highest of them. */
export const journalSeqOfKey = (key: string | null | undefined): number | undefined => {
  if (typeof key !== 'string' || !/^\d{1,16}$/.test(key)) return undefined;
  return Number(key);
};

/** Ids sort by time: `20261201T153012345Z-1a2b3c`. */
export function newBackupId(at: number): string {
  const iso = new Date(at).toISOString(); // 2026-12-01T15:30:12.345Z
  return `${iso.replace(/[-:.]/g, '').replace('Z', '')}Z-${randomBytes(3).toString('hex')}`;
}

export const isBackupId = (text: string): boolean => ID.test(text);

/** Time of a backup id (ms), or NaN. */
export function idTime(id: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(id);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!) : Number.NaN;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The manifest's text, its checksum filled in. */
export function manifestText(manifest: Omit<BackupManifest, 'checksum'>): { text: string; checksum: string } {
  const body = JSON.stringify({ ...manifest, checksum: undefined });
  const checksum = `sha256:${sha256(body)}`;
  return { text: `${JSON.stringify({ ...manifest, checksum }, null, 2)}\n`, checksum };
}

const damaged = (id: string, why: string): StrataError =>
  new StrataError('CORRUPT', `backup ${id} is damaged: ${why}; nothing was changed`, {
    hint: 'use another backup (`strata backup list`); `strata backup verify <id>` checks one',
    details: { backup: id },
  });

const isHex = (v: unknown, length: number): v is string => typeof v === 'string' && v.length === length && /^[0-9a-f]+$/.test(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The part each kind of backup holds. */
export const PART_NAME: Record<BackupManifest['kind'], string> = {
  'sqlite-file': 'store.db.gz',
  records: 'records.ndjson.gz',
};

/** Space names as the drivers accept them (image.ts checks records against the same rule). */
const SPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,299}$/;
const DRIVER_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** Every field a manifest may have (`journalSeq` only with a journal), and those of its part. */
const FIELDS = ['format', 'id', 'createdAt', 'at', 'driver', 'kind', 'spaces', 'records', 'journalSeq', 'parts', 'checksum'];
const PART_FIELDS = ['name', 'bytes', 'sha256', 'rawBytes', 'rawSha256'];

/** The names of fields outside `known`, quoted and cut for a message; null when there are none. */
function unknownFields(object: Record<string, unknown>, known: readonly string[]): string | null {
  const extra = Object.keys(object).filter((k) => !known.includes(k));
  if (extra.length === 0) return null;
  const shown = extra.slice(0, 3).map((k) => JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}...` : k));
  return `${shown.join(', ')}${extra.length > 3 ? ` and ${extra.length - 3} more` : ''}`;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/**
 * Parses and checks a manifest; CORRUPT for anything damaged, UNSUPPORTED for a newer format.
 *
 * The checksum is plain sha256 (anyone can recompute it), so every field is checked for what
 * Strata itself writes: the text must be exactly the one `manifestText` makes (a changed
 * byte anywhere, whitespace and field order included, is damage; no field the writer does not
 * write), `id`, `at` and `createdAt` must agree, `records` must be the sum of `spaces`, space
 * and driver names must be names, `journalSeq` comes only with `meta.journal` entries in
 * `spaces`, and the part must be the one the kind of backup has. Whether `journalSeq` is the
 * last entry the part holds needs the part: `checkScratch` checks it. Nothing in a manifest
 * ever becomes a path but `id` (checked against the directory it was found under) and the
 * part name (one of two).
 */
export function parseManifest(text: string, id: string): BackupManifest {
  if (text.length > MAX_MANIFEST_BYTES) throw damaged(id, 'the manifest is too large');
  let raw: unknown;
  try {
    raw = parseExternalJson(text, `the manifest of backup ${id}`);
  } catch (cause) {
    throw Object.assign(damaged(id, 'its manifest is not valid JSON'), { cause });
  }
  if (!isPlainObject(raw)) throw damaged(id, 'the manifest is not an object');
  // The checksum first, so a damaged format field is CORRUPT, not "a newer format": every
  // format version keeps this manifest checksum, so an older reader can always tell the two apart.
  const { checksum, ...rest } = raw;
  if (typeof checksum !== 'string' || checksum !== `sha256:${sha256(JSON.stringify({ ...rest, checksum: undefined }))}`) {
    throw damaged(id, 'the manifest fails its checksum');
  }
  const newer = typeof raw.format === 'string' ? /^strata-backup\/(\d+)$/.exec(raw.format) : null;
  if (newer !== null && raw.format !== BACKUP_FORMAT && Number(newer[1]) > Number(BACKUP_FORMAT.split('/')[1])) {
    throw new StrataError(
      'UNSUPPORTED',
      `backup ${id} is in format ${String(raw.format)}, newer than this version of Strata reads`,
      {
        hint: 'restore it with a newer version of stratadb',
      },
    );
  }
  // Byte for byte what manifestText wrote: whitespace and number spelling here, key order below.
  if (text !== `${JSON.stringify(raw, null, 2)}\n`) throw damaged(id, 'the manifest is not the text Strata wrote');
  // Only the fields the writer writes: the checksum covers any other, and nothing reads it.
  const extra = unknownFields(raw, FIELDS);
  if (extra !== null) throw damaged(id, `its manifest has a field Strata does not write (${extra})`);
  const m = raw as unknown as BackupManifest;
  const spaces: unknown = m.spaces;
  const ok =
    m.format === BACKUP_FORMAT &&
    typeof m.id === 'string' &&
    isBackupId(m.id) &&
    isCount(m.at) &&
    idTime(m.id) === m.at &&
    typeof m.createdAt === 'string' &&
    m.createdAt === new Date(m.at).toISOString() &&
    typeof m.driver === 'string' &&
    DRIVER_NAME.test(m.driver) &&
    (m.kind === 'sqlite-file' || m.kind === 'records') &&
    isPlainObject(spaces) &&
    Object.entries(spaces).every(([space, n]) => SPACE_NAME.test(space) && isCount(n)) &&
    isCount(m.records) &&
    Object.values(spaces as Record<string, number>).reduce((a, b) => a + b, 0) === m.records &&
    (m.journalSeq === undefined || isCount(m.journalSeq)) &&
    Array.isArray(m.parts) &&
    m.parts.length === 1 &&
    m.parts.every(
      (p) =>
        isPlainObject(p) &&
        p.name === PART_NAME[m.kind] &&
        isCount(p.bytes) &&
        isCount(p.rawBytes) &&
        isHex(p.sha256, 64) &&
        isHex(p.rawSha256, 64),
    );
  if (!ok) throw damaged(id, 'the manifest does not have the documented fields');
  const part = m.parts[0]!;
  const partExtra = unknownFields(part as unknown as Record<string, unknown>, PART_FIELDS);
  if (partExtra !== null) throw damaged(id, `its manifest's part has a field Strata does not write (${partExtra})`);
  // The writer names the journal's last entry only when the part holds the journal's space
  // with entries in it (journal entries never expire); checked against the entries themselves by
  // verify and restore (backup-restore.ts checkScratch), which read the part.
  if (m.journalSeq !== undefined && !(Object.hasOwn(m.spaces, JOURNAL_SPACE) && m.spaces[JOURNAL_SPACE]! >= 1)) {
    throw damaged(id, `its manifest says journalSeq ${m.journalSeq}, and its spaces hold no ${JOURNAL_SPACE} entry`);
  }
  // What manifestText makes of these fields, in the writer's order: a field moved (the checksum
  // included) is a text Strata did not write.
  const written: Omit<BackupManifest, 'checksum'> = {
    format: m.format,
    id: m.id,
    createdAt: m.createdAt,
    at: m.at,
    driver: m.driver,
    kind: m.kind,
    spaces: m.spaces,
    records: m.records,
    ...(m.journalSeq === undefined ? {} : { journalSeq: m.journalSeq }),
    parts: [{ name: part.name, bytes: part.bytes, sha256: part.sha256, rawBytes: part.rawBytes, rawSha256: part.rawSha256 }],
  };
  if (manifestText(written).text !== text) {
    throw damaged(id, 'the manifest is not the text Strata wrote (its fields are not in the order Strata writes them)');
  }
  return { ...written, checksum };
}

export { damaged as damagedBackup };
