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

/** Parses and checks a manifest; CORRUPT for anything damaged, UNSUPPORTED for a newer format. */
export function parseManifest(text: string, id: string): BackupManifest {
  if (text.length > MAX_MANIFEST_BYTES) throw damaged(id, 'the manifest is too large');
  const raw = parseExternalJson(text, `the manifest of backup ${id}`) as Record<string, unknown>;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw damaged(id, 'the manifest is not an object');
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
  const m = raw as unknown as BackupManifest;
  const ok =
    m.format === BACKUP_FORMAT &&
    typeof m.id === 'string' &&
    typeof m.createdAt === 'string' &&
    typeof m.at === 'number' &&
    typeof m.driver === 'string' &&
    (m.kind === 'sqlite-file' || m.kind === 'records') &&
    m.spaces !== null &&
    typeof m.spaces === 'object' &&
    Object.values(m.spaces).every(isCount) &&
    isCount(m.records) &&
    (m.journalSeq === undefined || isCount(m.journalSeq)) &&
    Array.isArray(m.parts) &&
    m.parts.length === 1 &&
    m.parts.every(
      (p) =>
        typeof p.name === 'string' &&
        /^[a-z0-9.-]+$/.test(p.name) &&
        isCount(p.bytes) &&
        isCount(p.rawBytes) &&
        isHex(p.sha256, 64) &&
        isHex(p.rawSha256, 64),
    );
  if (!ok) throw damaged(id, 'the manifest does not have the documented fields');
  return m;
}

export { damaged as damagedBackup };
