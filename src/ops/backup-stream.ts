import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { BackupPart } from './backup-format.js';
import type { BackupTarget } from './backup-target.js';
import { damagedBackup } from './backup-format.js';
import { StrataError } from '../errors.js';

/**
 * Compresses `source` into the object `name` of `target`, hashing the raw and the
 * compressed bytes on the way (one pass, streamed).
 */
export async function putCompressed(
  target: BackupTarget,
  name: string,
  source: AsyncIterable<Uint8Array>,
  level: number,
  onRaw: (bytes: number) => void,
): Promise<BackupPart> {
  const raw = createHash('sha256');
  const packed = createHash('sha256');
  let rawBytes = 0;
  const gzip = createGzip({ level, chunkSize: 256 * 1024 });
  async function* tapRaw(): AsyncIterable<Uint8Array> {
    for await (const chunk of source) {
      raw.update(chunk);
      rawBytes += chunk.length;
      onRaw(chunk.length);
      yield chunk;
    }
  }
  const input = Readable.from(tapRaw());
  input.on('error', (error) => gzip.destroy(error));
  input.pipe(gzip);
  async function* tapPacked(): AsyncIterable<Uint8Array> {
    for await (const chunk of gzip as AsyncIterable<Buffer>) {
      packed.update(chunk);
      yield chunk;
    }
  }
  const { bytes } = await target.put(name, tapPacked());
  return {
    name: name.slice(name.lastIndexOf('/') + 1),
    bytes,
    sha256: packed.digest('hex'),
    rawBytes,
    rawSha256: raw.digest('hex'),
  };
}

/**
 * The uncompressed bytes of a part, checked as they stream: a gzip error, a size or a
 * checksum that differs from the manifest is CORRUPT, raised by the last chunk at the
 * latest, so a consumer that commits only after the end never commits damaged data.
 */
export async function* readPart(
  target: BackupTarget,
  id: string,
  part: BackupPart,
  onRaw?: (bytes: number) => void,
): AsyncIterable<Buffer> {
  const size = await target.size(`${id}/${part.name}`);
  if (size === null) throw damagedBackup(id, `its part ${part.name} is missing`);
  if (size !== part.bytes) throw damagedBackup(id, `its part ${part.name} has ${size} bytes, the manifest says ${part.bytes}`);
  const stream = await target.get(`${id}/${part.name}`);
  const packed = createHash('sha256');
  const raw = createHash('sha256');
  let rawBytes = 0;
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  stream.on('error', (error) => gunzip.destroy(error));
  stream.on('data', (chunk: Buffer) => packed.update(chunk));
  stream.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      raw.update(chunk);
      rawBytes += chunk.length;
      onRaw?.(rawBytes);
      if (rawBytes > part.rawBytes) throw damagedBackup(id, `its part ${part.name} holds more data than the manifest says`);
      yield chunk;
    }
  } catch (error) {
    stream.destroy();
    if (error instanceof StrataError) throw error;
    throw Object.assign(damagedBackup(id, `its part ${part.name} cannot be decompressed (${(error as Error).message})`), {
      cause: error,
    });
  }
  if (packed.digest('hex') !== part.sha256) throw damagedBackup(id, `its part ${part.name} fails its checksum`);
  if (rawBytes !== part.rawBytes || raw.digest('hex') !== part.rawSha256) {
    throw damagedBackup(id, `the data of its part ${part.name} fails its checksum`);
  }
}
