import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { createGunzip, crc32 } from 'node:zlib';
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
 * compressed chunk). Refuses, as CORRUPT: a file that is not gzip, a truncated one, one whose
 * last 8 bytes are not the gzip trailer of the data read (trailing garbage, even zeros), a line
 * longer than MAX_LINE_BYTES, text that is not UTF-8, and a last line without its newline.
 * At the end, `digest.sha256` is the sha256 of the file's bytes.
 */
export async function* readLines(path: string, digest: { sha256?: string } = {}): AsyncGenerator<Line[]> {
  const tail = await lastBytes(path, 8);
  const gunzip = createGunzip();
  const source = createReadStream(path);
  source.on('error', (error) => gunzip.destroy(error));
  // The file's own bytes, hashed as they are read: import's second pass proves it read the same file.
  const fileHash = createHash('sha256');
  source.on('data', (chunk) => fileHash.update(chunk));
  source.pipe(gunzip);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let no = 0;
  let crc = 0;
  let size = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      crc = crc32(chunk, crc);
      size += chunk.length;
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
  } catch (error) {
    if (error instanceof StrataError) throw error;
    throw corrupt('the file is not a complete gzip stream (truncated or damaged)', error);
  } finally {
    source.destroy();
    gunzip.destroy();
  }
  if (pendingBytes > 0) throw corrupt(`the last line (${no + 1}) has no newline: the file is truncated`, undefined, no + 1);
  // gzip ends with CRC32 and size of the data; anything after the stream (which zlib skips when it is zeros) shows here.
  if (tail.length < 8 || tail.readUInt32LE(0) !== crc >>> 0 || tail.readUInt32LE(4) !== size % 2 ** 32) {
    throw corrupt('the file has bytes after its gzip stream, or more than one stream');
  }
  digest.sha256 = fileHash.digest('hex');
}

/** The line's text without its newline; bytes that are not UTF-8 are refused, never replaced. */
function decode(bytes: Buffer, no: number): string {
  if (!isUtf8(bytes)) throw corrupt(`line ${no} is not UTF-8 text`, undefined, no);
  return bytes.toString('utf8', 0, bytes.length - 1);
}

async function lastBytes(path: string, n: number): Promise<Buffer> {
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
    const { size } = await handle.stat();
    if (!(await handle.stat()).isFile()) {
      throw new StrataError('BAD_INPUT', `store.import: ${path} is not a file`, {
        op: 'store.import',
        hint: 'give the export file',
      });
    }
    const length = Math.min(n, size);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer;
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
