import zlib from 'node:zlib';

let table: Uint32Array | undefined;

/** Plain CRC-32 (IEEE), only used on Node releases older than 20.15, which lack `zlib.crc32`. */
function crc32Portable(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const crc32: (data: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (data) => zlib.crc32(data) : crc32Portable;

/** CRC-32 of `data` (a string is taken as UTF-8) as 8 lowercase hex digits, the form the files carry. */
export function crcHex(data: Uint8Array | string): string {
  return crc32(typeof data === 'string' ? Buffer.from(data, 'utf8') : data)
    .toString(16)
    .padStart(8, '0');
}

/** `crcHex` of a string, without copying it to a buffer first where `zlib.crc32` can take it. */
export const crcHexOfString: (text: string) => string =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (text) => zlib.crc32(text).toString(16).padStart(8, '0')
    : (text) => crcHex(text);
