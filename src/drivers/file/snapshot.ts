import { createHash } from 'node:crypto';
import type { StoredRecord } from '../driver.js';
import { compareStrings } from '../../query/match.js';
import { FORMAT } from './journal.js';
import { decodeRecord, recordObject } from './record.js';

const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

/**
 * The file name of a space's snapshot: `<escaped space>.json`. Space names are already
 * limited to `[A-Za-z0-9_.-]`, but the name must be a safe, unique single file name on
 * every file system whatever it holds, so: upper-case letters become `^` + the letter in
 * lower case (case-insensitive file systems would merge `Tasks` and `tasks`), everything
 * outside `[a-z0-9_-]` and a leading dot is percent-encoded, Windows device names get their
 * first letter encoded, and overlong names are cut and suffixed with a hash.
 */
export function snapshotFileName(space: string): string {
  let out = '';
  for (const ch of space) {
    if (/^[a-z0-9_-]$/.test(ch) || (ch === '.' && out !== '')) out += ch;
    else if (/^[A-Z]$/.test(ch)) out += `^${ch.toLowerCase()}`;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (RESERVED.test(out.split('.')[0]!)) out = `%${out.charCodeAt(0).toString(16).toUpperCase()}${out.slice(1)}`;
  if (out.length > 200) out = `${out.slice(0, 180)}~${createHash('sha256').update(space).digest('hex').slice(0, 16)}`;
  return `${out}.json`;
}

/** A space's records as a pretty-printed JSON document, keys in order, values embedded. */
export function encodeSnapshot(space: string, seq: number, records: Iterable<StoredRecord>): string {
  const sorted = [...records].sort((a, b) => compareStrings(a.key, b.key));
  // A null-prototype object, so a record keyed "__proto__" is written as a plain member.
  const out = Object.create(null) as Record<string, unknown>;
  for (const record of sorted) out[record.key] = recordObject(record);
  return `${JSON.stringify({ format: FORMAT, space, seq, records: out }, null, 2)}\n`;
}

export interface Snapshot {
  format: string;
  seq: number;
  records: StoredRecord[];
}

/** Parses and checks a snapshot; throws a plain Error naming what is wrong. */
export function decodeSnapshot(text: string, space: string): Snapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`it is not valid JSON (${(error as Error).message}); the file is truncated or garbled`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('it is not a strata snapshot');
  const s = raw as Record<string, unknown>;
  if (typeof s.format !== 'string') throw new Error('it is not a strata snapshot');
  if (s.format !== FORMAT) return { format: s.format, seq: 0, records: [] };
  if (s.space !== space) throw new Error(`it holds space ${JSON.stringify(s.space)}, expected ${JSON.stringify(space)}`);
  if (!Number.isSafeInteger(s.seq) || (s.seq as number) < 0) throw new Error('its seq is malformed');
  const records = s.records;
  if (records === null || typeof records !== 'object' || Array.isArray(records)) throw new Error('its records are malformed');
  return {
    format: s.format,
    seq: s.seq as number,
    records: Object.keys(records).map((key) => decodeRecord(key, (records as Record<string, unknown>)[key])),
  };
}
