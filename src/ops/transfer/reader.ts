import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { createInflateRaw, crc32 } from 'node:zlib';
import { StrataError } from '../../errors.js';
import { MAX_LINE_BYTES } from './format.js';

/** One line of an export file: its number (1-based), text, and exact bytes (for checksums). */
export interface Line {
  no: number;
  text: string;
  bytes: Buffer;
}

function corrupt(message: string, cause?: unknown, line?: number): StrataError {
  return new StrataError('CORRUPT', `store.import: ${message}`, {
    op: 'store.import',
    cause,
    hint: 'nothing was imported; the file is damaged or not a Strata export: export the source store again',
    details: line === undefined ? {} : { line },
  });
}

/**
 * The lines of a gzip-compressed export file in batches (one per decompressed chunk), streamed (memory holds one line and one
 * compressed chunk). Refuses, as CORRUPT: a file that is not gzip, a truncated one, one that is
 * not exactly one gzip member (RFC 1952) ending at the end of the file (trailing garbage, even
 * zeros, and a second member before or after, even an empty one), a trailer that is not the
 * CRC32 and size of the data read, a line longer than MAX_LINE_BYTES, text that is not UTF-8,
 * and a last line without its newline. At the end, `digest.sha256` is the sha256 of the file's bytes.
 */
export async function* readLines(path: string, digest: { sha256?: string } = {}): AsyncGenerator<Line[]> {
  const { size, header, tail } = await fileEnds(path);
  // The member's deflate data is inflated raw, not through a Gunzip: a Gunzip silently reads on
  // into a next member (an empty one in front adds nothing to the CRC and size checked below),
  // while a raw inflate stops where the first member's data ends, and `bytesWritten` says where.
  const inflate = createInflateRaw();
  const source = createReadStream(path, { start: header.length });
  source.on('error', (error) => inflate.destroy(error));
  // The file's own bytes, hashed as they are read: import's second pass proves it read the same file.
  const fileHash = createHash('sha256').update(header);
  let hashed = header.length;
  let hashing = true;
  source.on('data', (chunk: Buffer | string) => {
    if (!hashing) return;
    fileHash.update(chunk); // a Buffer: the stream has no encoding
    hashed += chunk.length;
  });
  source.pipe(inflate);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let no = 0;
  let crc = 0;
  let length = 0;
  let consumed: number;
  try {
    for await (const chunk of inflate as AsyncIterable<Buffer>) {
      crc = crc32(chunk, crc);
      length += chunk.length;
      let start = 0;
      const batch: Line[] = [];
      for (;;) {
        const end = chunk.indexOf(0x0a, start);
        if (end < 0) break;
        let bytes = chunk.subarray(start, end + 1);
        if (pendingBytes > 0) {
          bytes = Buffer.concat([...pending, bytes]);
          pending = [];
          pendingBytes = 0;
        }
        no++;
        if (bytes.length > MAX_LINE_BYTES) throw corrupt(`line ${no} is longer than ${MAX_LINE_BYTES} bytes`, undefined, no);
        batch.push({ no, text: decode(bytes, no), bytes });
        start = end + 1;
      }
      if (batch.length > 0) yield batch;
      if (start < chunk.length) {
        // Copied: the chunk's memory is reused by the stream.
        pending.push(Buffer.from(chunk.subarray(start)));
        pendingBytes += chunk.length - start;
        if (pendingBytes > MAX_LINE_BYTES)
          throw corrupt(`line ${no + 1} is longer than ${MAX_LINE_BYTES} bytes`, undefined, no + 1);
      }
    }
    // Where the deflate data ended; read before anything else can be written into the inflate.
    consumed = header.length + inflate.bytesWritten;
    hashing = false;
  } catch (error) {
    if (error instanceof StrataError) throw error;
    throw corrupt('the file is not a complete gzip stream (truncated or damaged)', error);
  } finally {
    source.destroy();
    inflate.destroy();
  }
  if (pendingBytes > 0) throw corrupt(`the last line (${no + 1}) has no newline: the file is truncated`, undefined, no + 1);
  // One member: its 8-byte trailer (CRC32 and size of the data) ends the file. Anything between
  // (another member, garbage, zeros) or a file that grew while it was read is refused.
  if (consumed + 8 !== size || hashed > size) throw corrupt('the file has bytes after its gzip stream, or more than one stream');
  if (tail.readUInt32LE(0) !== crc >>> 0 || tail.readUInt32LE(4) !== length % 2 ** 32) {
    throw corrupt('the gzip trailer does not match the data (damaged)');
  }
  // The read stream may have stopped short of the trailer's bytes: they are the file's last 8.
  fileHash.update(tail.subarray(8 - (size - hashed)));
  digest.sha256 = fileHash.digest('hex');
}

/** The line's text without its newline; bytes that are not UTF-8 are refused, never replaced. */
function decode(bytes: Buffer, no: number): string {
  if (!isUtf8(bytes)) throw corrupt(`line ${no} is not UTF-8 text`, undefined, no);
  return bytes.toString('utf8', 0, bytes.length - 1);
}

/** gzip header flags (RFC 1952 2.3.1); the three high bits are reserved and zlib refuses them. */
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const FRESERVED = 0xe0;

/**
 * The length of the gzip member header `bytes` starts with; `null` when it is not one, `'more'`
 * when `bytes` ends inside it (a name or comment can be any length).
 */
function headerLength(bytes: Buffer): number | 'more' | null {
  if (bytes.length < 10) return 'more';
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b || bytes[2] !== 8) return null;
  const flags = bytes[3]!;
  if ((flags & FRESERVED) !== 0) return null;
  let at = 10;
  if ((flags & FEXTRA) !== 0) {
    if (bytes.length < at + 2) return 'more';
    at += 2 + bytes.readUInt16LE(at);
    if (bytes.length < at) return 'more';
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if ((flags & flag) === 0) continue;
    const nul = bytes.indexOf(0, at);
    if (nul < 0) return 'more';
    at = nul + 1;
  }
  if ((flags & FHCRC) !== 0) {
    if (bytes.length < at + 2) return 'more';
    // The header's CRC16 is the low half of the CRC32 of the bytes before it, as zlib checks it.
    if (bytes.readUInt16LE(at) !== (crc32(bytes.subarray(0, at)) & 0xffff)) return null;
    at += 2;
  }
  return at;
}

/** Bytes of the file read in search of the end of its gzip header (a name or comment can be long). */
const HEADER_WINDOW = 64 * 1024;

/**
 * The file's size, the bytes of its gzip header and its last 8 bytes (the trailer of a
 * well-formed file); NOT_FOUND / BAD_INPUT for a path that is not a file, CORRUPT when the
 * file does not start with a gzip header.
 */
async function fileEnds(path: string): Promise<{ size: number; header: Buffer; tail: Buffer }> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new StrataError('NOT_FOUND', `store.import: no file at ${path}`, {
        op: 'store.import',
        cause,
        hint: 'check the path',
      });
    }
    if (code === 'EISDIR') {
      throw new StrataError('BAD_INPUT', `store.import: ${path} is a directory`, {
        op: 'store.import',
        cause,
        hint: 'give the export file',
      });
    }
    throw cause;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw new StrataError('BAD_INPUT', `store.import: ${path} is not a file`, {
        op: 'store.import',
        hint: 'give the export file',
      });
    }
    const { size } = stat;
    const notGzip = (): StrataError => corrupt('the file is not gzip (it does not start with a gzip header)');
    // A header, at least an empty deflate block (2 bytes) and the 8-byte trailer.
    if (size < 20) throw notGzip();
    // The header lies before the trailer; a file read up to there without its end is not gzip.
    let read = Buffer.alloc(0);
    let header: number | 'more' | null = 'more';
    while (header === 'more' && read.length < size - 8) {
      const more = Buffer.alloc(Math.min(HEADER_WINDOW, size - 8 - read.length));
      const { bytesRead } = await handle.read(more, 0, more.length, read.length);
      if (bytesRead === 0) break;
      read = Buffer.concat([read, more.subarray(0, bytesRead)]);
      header = headerLength(read);
    }
    if (typeof header !== 'number' || header > size - 8) throw notGzip();
    const tail = Buffer.alloc(8);
    await handle.read(tail, 0, 8, size - 8);
    return { size, header: Buffer.from(read.subarray(0, header)), tail };
  } catch (cause) {
    if (cause instanceof StrataError) throw cause;
    if ((cause as NodeJS.ErrnoException).code === 'EISDIR') {
      throw new StrataError('BAD_INPUT', `store.import: ${path} is a directory`, {
        op: 'store.import',
        cause,
        hint: 'give the export file',
      });
    }
    throw cause;
  } finally {
    await handle.close();
  }
}
