import { read, readSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Mutation } from '../memory-state.js';
import { crcHex } from './checksum.js';
import { decodeRecord, recordJson } from './record.js';

/**
 * The journal: `journal.log`, append-only. Every line is `<crc32 hex of payload> <payload JSON>\n`.
 * The first line is the header; each further line is one committed batch. A line is written
 * by one write() and counts only when complete with a matching checksum, so a batch is atomic.
 */
export const FORMAT = 'strata-file/1';
export const JOURNAL_FILE = 'journal.log';

/**
 * The N of a well-formed format string `strata-file/<N>` (N a positive integer written
 * without leading zeros), else null: a damaged format string, which is CORRUPT. Only a
 * well-formed N above what this version reads is a newer format (UNSUPPORTED).
 */
export function formatVersion(format: unknown): number | null {
  if (typeof format !== 'string') return null;
  const m = /^strata-file\/([1-9][0-9]{0,5})$/.exec(format);
  return m ? Number(m[1]) : null;
}

export interface JournalHeader {
  format: string;
  /** Changes on every compaction: tells readers the file was replaced. */
  generation: string;
  /** The seq of the last batch folded into the snapshots; entries here start at base + 1. */
  base: number;
  /** Spaces that have a snapshot file. Each must exist. */
  spaces: string[];
  createdAt: number;
}

export interface JournalEntry {
  seq: number;
  changes: Mutation[];
  /** Spaces declared by `ensureSpace`, so they exist for every process and after reopening. */
  declare: string[];
}

const NL = 0x0a;
const CRC_LENGTH = 8;

function frame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const line = Buffer.allocUnsafe(CRC_LENGTH + 1 + body.length + 1);
  line.write(crcHex(body), 0, 'latin1');
  line[CRC_LENGTH] = 0x20;
  body.copy(line, CRC_LENGTH + 1);
  line[line.length - 1] = NL;
  return line;
}

export function encodeHeader(header: JournalHeader): Buffer {
  return frame(JSON.stringify(header));
}

/** One batch as one line. Values are embedded as JSON, so the journal is readable too. */
export function encodeEntry(seq: number, changes: readonly Mutation[], declare: readonly string[] = []): Buffer {
  let payload = `{"seq":${seq},"changes":[`;
  for (let i = 0; i < changes.length; i++) {
    const m = changes[i]!;
    payload += `${i === 0 ? '' : ','}{"space":${JSON.stringify(m.space)},"key":${JSON.stringify(m.key)},"record":${m.record ? recordJson(m.record) : 'null'}}`;
  }
  payload += ']';
  if (declare.length > 0) payload += `,"declare":${JSON.stringify(declare)}`;
  return frame(`${payload}}`);
}

/** The payload of a complete line when its checksum matches, else `null`. */
function payloadOf(buf: Buffer, start: number, end: number): string | null {
  if (end - start < CRC_LENGTH + 2 || buf[start + CRC_LENGTH] !== 0x20) return null;
  const body = buf.subarray(start + CRC_LENGTH + 1, end);
  return crcHex(body) === buf.toString('latin1', start, start + CRC_LENGTH) ? body.toString('utf8') : null;
}

export function decodeHeader(payload: string): JournalHeader {
  const h = JSON.parse(payload) as Partial<JournalHeader> | null;
  if (h === null || typeof h !== 'object' || typeof h.format !== 'string')
    throw new Error('the header is not a strata journal header');
  const version = formatVersion(h.format);
  if (version === null) throw new Error(`the header's format string ${JSON.stringify(h.format)} is damaged`);
  if (version > 1) return h as JournalHeader; // a newer format: the caller reports UNSUPPORTED
  if (typeof h.generation !== 'string' || !Number.isSafeInteger(h.base) || (h.base as number) < 0)
    throw new Error('the header is malformed');
  if (!Array.isArray(h.spaces) || !h.spaces.every((s) => typeof s === 'string'))
    throw new Error('the header space list is malformed');
  return h as JournalHeader;
}

function decodeEntry(payload: string): JournalEntry {
  const raw = JSON.parse(payload) as { seq?: unknown; changes?: unknown; declare?: unknown } | null;
  if (raw === null || typeof raw !== 'object' || !Number.isSafeInteger(raw.seq) || !Array.isArray(raw.changes)) {
    throw new Error('the entry is malformed');
  }
  const changes = raw.changes.map((c: unknown): Mutation => {
    const m = c as { space?: unknown; key?: unknown; record?: unknown } | null;
    if (m === null || typeof m !== 'object' || typeof m.space !== 'string' || typeof m.key !== 'string')
      throw new Error('a change is malformed');
    return { space: m.space, key: m.key, record: m.record === null ? null : decodeRecord(m.key, m.record) };
  });
  const declare = raw.declare ?? [];
  if (!Array.isArray(declare) || !declare.every((s) => typeof s === 'string')) throw new Error('the declare list is malformed');
  return { seq: raw.seq as number, changes, declare: declare as string[] };
}

export interface ScannedEntry {
  entry: JournalEntry;
  /** Absolute file offset just past this line. */
  end: number;
}

export interface Scan {
  entries: ScannedEntry[];
  /** Absolute offset just past the last good line: where the next append goes. */
  end: number;
  /** Bytes after `end` that are not a good line: a torn tail, or a line still being written. */
  tail: number;
  /** A complete line that fails its checksum or makes no sense: real damage. */
  corrupt?: { offset: number; problem: string };
}

/**
 * Reads the entry lines in `buf`, which starts at file offset `origin`, expecting seqs from
 * `nextSeq` on. Each batch is written by one write() call, so a crash (even SIGKILL in the
 * middle of that call) leaves at most a prefix of its lines: complete good lines, then one
 * line without its final `\n`. Only that incomplete last line is a torn tail, reported in
 * `tail`. A complete line (it ends in `\n`) that fails its checksum or makes no sense cannot
 * come from a crash, wherever it is: the file was damaged, and `corrupt` says where. So is
 * an "incomplete" last line that is a whole good line plus one stray byte: its newline was
 * damaged (a torn write stops before the newline, it never replaces it).
 */
export function scanEntries(buf: Buffer, origin: number, nextSeq: number): Scan {
  const entries: ScannedEntry[] = [];
  let pos = 0;
  let seq = nextSeq;
  const damaged = (problem: string): Scan => ({
    entries,
    end: origin + pos,
    tail: buf.length - pos,
    corrupt: { offset: origin + pos, problem },
  });
  while (pos < buf.length) {
    const nl = buf.indexOf(NL, pos);
    if (nl < 0) {
      if (payloadOf(buf, pos, buf.length - 1) !== null) return damaged('the newline ending a batch is damaged');
      break;
    }
    const payload = payloadOf(buf, pos, nl);
    if (payload === null) return damaged('a complete line fails its checksum');
    let entry: JournalEntry;
    try {
      entry = decodeEntry(payload);
    } catch (error) {
      return damaged((error as Error).message);
    }
    if (entry.seq !== seq) return damaged(`expected batch ${seq}, found ${entry.seq}`);
    seq++;
    pos = nl + 1;
    entries.push({ entry, end: origin + pos });
  }
  return { entries, end: origin + pos, tail: buf.length - pos };
}

/** Splits off and checks the header line at the start of a journal. */
export function parseHeaderLine(buf: Buffer): { header: JournalHeader; bytes: number } {
  const nl = buf.indexOf(NL);
  const payload = nl < 0 ? null : payloadOf(buf, 0, nl);
  if (payload === null) throw new Error('the header line is missing or fails its checksum');
  return { header: decodeHeader(payload), bytes: nl + 1 };
}

/** Reads bytes [from, to) of an open file (fewer if it is shorter). Synchronous: for tails. */
export function readRangeSync(fd: number, from: number, to: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(0, to - from));
  let filled = 0;
  while (filled < buf.length) {
    const n = readSync(fd, buf, filled, buf.length - filled, from + filled);
    if (n === 0) break;
    filled += n;
  }
  return filled === buf.length ? buf : buf.subarray(0, filled);
}

const readAsync = promisify(read);

/** Reads bytes [from, to) without blocking: for whole journals. */
export async function readRange(fd: number, from: number, to: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(Math.max(0, to - from));
  let filled = 0;
  while (filled < buf.length) {
    const { bytesRead } = await readAsync(fd, buf, filled, buf.length - filled, from + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === buf.length ? buf : buf.subarray(0, filled);
}

/** Writes all of `data` at `position`. */
export function writeAllSync(fd: number, data: Buffer, position: number): void {
  for (let done = 0; done < data.length;) done += writeSync(fd, data, done, data.length - done, position + done);
}
