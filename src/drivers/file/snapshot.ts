import { createHash } from 'node:crypto';
import type { StoredRecord } from '../driver.js';
import { compareStrings } from '../../query/match.js';
import { crcHexOfString } from './checksum.js';
import { DamageError } from './errors.js';
import { formatVersion } from './journal.js';
import { decodeRecord, recordJson, recordObject } from './record.js';

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

/**
 * Snapshots are `strata-file/2`: human-readable JSON, every record carrying `crc`, the CRC-32
 * of its key and canonical record text (`recordCrc`), and the header carrying `count` and
 * `checksum`, the CRC-32 of the format, space, seq, count and every record's crc in key
 * order. So a damaged byte anywhere is CORRUPT naming the file, space and key, never other
 * data; only whitespace may change harmlessly. `strata-file/1` snapshots (no checksums,
 * written before 0.x) are still read, and rewritten in the current format when the store
 * is next compacted or closed.
 */
export const SNAPSHOT_FORMAT = 'strata-file/2';
const SNAPSHOT_VERSION = 2;
const LEGACY_VERSION = 1;

/** The checksum a record carries in a snapshot. */
export function recordCrc(record: StoredRecord): string {
  return crcHexOfString(`${JSON.stringify(record.key)}:${recordJson(record)}`);
}

function snapshotChecksum(format: string, space: string, seq: number, crcs: readonly string[]): string {
  return crcHexOfString(`${format}\n${JSON.stringify(space)}\n${seq}\n${crcs.length}\n${crcs.join('')}`);
}

/** Records per step of `snapshotText`: each step is a few milliseconds of work. */
const STEP_RECORDS = 1000;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The records of a space in key order (a RecordMap keeps them sorted already). */
function inKeyOrder(records: ReadonlyMap<string, StoredRecord> & { sortedKeys?(): readonly string[] }): StoredRecord[] {
  if (records.sortedKeys === undefined) return [...records.values()].sort((a, b) => compareStrings(a.key, b.key));
  const out: StoredRecord[] = [];
  let last: string | undefined;
  // The list may still name removed keys: skip those (and never list a key twice).
  for (const key of records.sortedKeys()) {
    const record = records.get(key);
    if (record !== undefined && key !== last) out.push(record);
    last = key;
  }
  return out;
}

/** One member of the `records` object, exactly as JSON.stringify(snapshot, null, 2) writes it. */
function memberText(record: StoredRecord, crc: string): string {
  const text = JSON.stringify({ ...recordObject(record), crc }, null, 2);
  // JSON strings never hold a raw newline, so every newline is the start of a line.
  return `\n    ${JSON.stringify(record.key)}: ${text.replaceAll('\n', '\n    ')}`;
}

/**
 * A space's records as a pretty-printed JSON document, keys in order, values embedded, in
 * pieces: the event loop gets a turn every STEP_RECORDS records, so compacting a space of
 * 200,000 records (83 MB of text, 2 s of work when built as one string) never holds the
 * loop for more than a few milliseconds, and the whole text never sits in memory. The
 * caller must not change `records` until the last piece (the file driver's compaction runs
 * as a serial task: writes wait for it). The text is the same as one JSON.stringify of the
 * whole snapshot would give.
 */
export async function* snapshotText(
  space: string,
  seq: number,
  records: ReadonlyMap<string, StoredRecord> & { sortedKeys?(): readonly string[] },
): AsyncGenerator<string> {
  const sorted = inKeyOrder(records);
  // The header's checksum covers every record's crc, so they are computed first.
  const crcs: string[] = new Array<string>(sorted.length);
  for (let i = 0; i < sorted.length; i++) {
    crcs[i] = recordCrc(sorted[i]!);
    if ((i + 1) % (STEP_RECORDS * 4) === 0) await nextTurn();
  }
  const checksum = snapshotChecksum(SNAPSHOT_FORMAT, space, seq, crcs);
  const header = JSON.stringify({ format: SNAPSHOT_FORMAT, space, seq, count: crcs.length, checksum }, null, 2);
  if (sorted.length === 0) {
    yield `${header.slice(0, -2)},\n  "records": {}\n}\n`;
    return;
  }
  let piece = `${header.slice(0, -2)},\n  "records": {`;
  for (let i = 0; i < sorted.length; i++) {
    piece += `${i === 0 ? '' : ','}${memberText(sorted[i]!, crcs[i]!)}`;
    if ((i + 1) % STEP_RECORDS === 0) {
      yield piece;
      piece = '';
      await nextTurn();
    }
  }
  yield `${piece}\n  }\n}\n`;
}

export type Snapshot =
  | {
      kind: 'current' | 'legacy';
      seq: number;
      records: StoredRecord[];
    }
  | { kind: 'newer'; format: string };

/**
 * Parses and checks a snapshot; throws a DamageError naming what is wrong (and the key).
 * `newer` is a well-formed format above ours that is not simply ours with a damaged format
 * string (a snapshot that checks out in full as ours once its format is put back is ours).
 */
export async function decodeSnapshot(text: string, space: string): Promise<Snapshot> {
  let raw: unknown;
  try {
    raw = (await parseInSteps(text)) ?? JSON.parse(text);
  } catch (error) {
    throw new DamageError(`it is not valid JSON (${(error as Error).message}); the file is truncated or garbled`, { space });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new DamageError('it is not a strata snapshot', { space });
  const s = raw as Record<string, unknown>;
  const version = formatVersion(s.format);
  if (version === null) throw new DamageError(`its format string ${JSON.stringify(s.format)} is damaged`, { space });
  if (version === SNAPSHOT_VERSION) return { kind: 'current', ...(await decodeCurrent(s, space)) };
  if (version === LEGACY_VERSION) return { kind: 'legacy', ...decodeLegacy(s, space) };
  if (version < SNAPSHOT_VERSION) throw new DamageError(`its format string ${JSON.stringify(s.format)} is damaged`, { space });
  let ours = false;
  try {
    await decodeCurrent({ ...s, format: SNAPSHOT_FORMAT }, space);
    ours = true;
  } catch {
    // not ours: a genuinely newer format
  }
  if (ours) throw new DamageError(`its format string ${JSON.stringify(s.format)} is damaged`, { space });
  return { kind: 'newer', format: s.format as string };
}

const RECORDS_OPEN = '\n  "records": {';
const MEMBER_START = '\n    "';
const SEPARATOR = `,${MEMBER_START}`;
const TRAILER = '\n  }\n}\n';

/**
 * JSON.parse of a snapshot laid out as `snapshotText` writes it, in steps of STEP_RECORDS
 * members with a turn of the event loop between them (one JSON.parse of a 200,000-record
 * snapshot holds the loop ~0.6 s). Members start on lines indented by exactly four spaces,
 * which nothing nested in them can (deeper lines are indented more and JSON strings hold no
 * raw newline). Returns what JSON.parse(text) would, or `undefined` when the text is laid out
 * otherwise (re-indented, damaged, an older writer): the caller then parses it whole, so
 * every verdict on such a file stays JSON.parse's own. (`step` is a parameter for the tests.)
 */
export async function parseInSteps(text: string, step = STEP_RECORDS): Promise<Record<string, unknown> | undefined> {
  const open = text.indexOf(RECORDS_OPEN);
  if (open < 1 || text.charCodeAt(open - 1) !== 44 /* , */ || !text.endsWith(TRAILER)) return undefined;
  const end = text.length - TRAILER.length;
  if (!text.startsWith(MEMBER_START, open + RECORDS_OPEN.length)) return undefined;
  let head: unknown;
  try {
    head = JSON.parse(`${text.slice(0, open - 1)}\n}`);
  } catch {
    return undefined;
  }
  // At least one member before the comma, and none named records (JSON.parse keeps the last).
  if (head === null || typeof head !== 'object' || Array.isArray(head)) return undefined;
  if (Object.keys(head).length === 0 || Object.hasOwn(head, 'records')) return undefined;
  // Built as JSON.parse builds it: own data properties ("__proto__" included), a repeated
  // key keeping its first place and its last value.
  const members: Record<string, unknown> = {};
  let at = open + RECORDS_OPEN.length;
  while (at < end) {
    let cut = at;
    for (let n = 0; n < step && cut < end; n++) {
      const next = text.indexOf(SEPARATOR, cut + 1);
      cut = next < 0 || next >= end ? end : next;
    }
    let part: unknown;
    try {
      part = JSON.parse(`{${text.slice(at, cut)}}`);
    } catch {
      return undefined;
    }
    for (const key of Object.keys(part as object)) {
      const value = (part as Record<string, unknown>)[key];
      if (key !== '__proto__') members[key] = value;
      else Object.defineProperty(members, key, { value, enumerable: true, writable: true, configurable: true });
    }
    at = cut === end ? end : cut + 1; // past the comma, at the next member's newline
    if (at < end) await nextTurn();
  }
  return { ...head, records: members };
}

function checkHeader(s: Record<string, unknown>, space: string): Record<string, unknown> {
  if (s.space !== space)
    throw new DamageError(`it holds space ${JSON.stringify(s.space)}, expected ${JSON.stringify(space)}`, { space });
  if (!Number.isSafeInteger(s.seq) || (s.seq as number) < 0) throw new DamageError('its seq is malformed', { space });
  const records = s.records;
  if (records === null || typeof records !== 'object' || Array.isArray(records))
    throw new DamageError('its records are malformed', { space });
  return records as Record<string, unknown>;
}

function decodeOne(space: string, key: string, raw: unknown): StoredRecord {
  try {
    return decodeRecord(key, raw);
  } catch (error) {
    throw new DamageError((error as Error).message, { space, key });
  }
}

/**
 * Checks every record of a parsed snapshot, giving the event loop a turn every STEP_RECORDS
 * records (200,000 records take ~0.7 s here, after JSON.parse's ~0.6 s of the whole text).
 */
async function decodeCurrent(s: Record<string, unknown>, space: string): Promise<{ seq: number; records: StoredRecord[] }> {
  const members = checkHeader(s, space);
  const seq = s.seq as number;
  if (!Number.isSafeInteger(s.count) || typeof s.checksum !== 'string')
    throw new DamageError('its count or checksum is missing or malformed', { space });
  const keys = Object.keys(members);
  if (keys.length !== s.count)
    throw new DamageError(`it holds ${keys.length} records but its header says ${String(s.count)}`, { space });
  const records: StoredRecord[] = [];
  const crcs: string[] = [];
  let ordered = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const raw = members[key] as Record<string, unknown> | null;
    const record = decodeOne(space, key, raw);
    const crc = recordCrc(record);
    if (raw?.crc !== crc) throw new DamageError(`record "${key}" fails its checksum`, { space, key });
    if (i > 0 && ordered && compareStrings(keys[i - 1]!, key) >= 0) ordered = false;
    crcs.push(crc);
    records.push(record);
    if ((i + 1) % STEP_RECORDS === 0) await nextTurn();
  }
  // JSON.parse lists integer-like keys first: put them back in the order they were written.
  const inOrder = ordered
    ? crcs
    : keys
        .map((key, i) => [key, crcs[i]!] as const)
        .sort((a, b) => compareStrings(a[0], b[0]))
        .map(([, crc]) => crc);
  if (snapshotChecksum(s.format as string, space, seq, inOrder) !== s.checksum)
    throw new DamageError('its header fails its checksum', { space });
  return { seq, records };
}

/** A `strata-file/1` snapshot: no checksums, so none of their members may appear. */
function decodeLegacy(s: Record<string, unknown>, space: string): { seq: number; records: StoredRecord[] } {
  const members = checkHeader(s, space);
  if ('count' in s || 'checksum' in s) throw new DamageError('its format string is damaged (it carries checksums)', { space });
  const records = Object.keys(members).map((key) => {
    const raw = members[key];
    if (raw !== null && typeof raw === 'object' && 'crc' in raw)
      throw new DamageError('its format string is damaged (its records carry checksums)', { space, key });
    return decodeOne(space, key, raw);
  });
  return { seq: s.seq as number, records };
}
