// docs/export-format.md: the file is "one gzip stream (RFC 1952, a single member, nothing after
// it)". Before the fix (audit test/audit-readme, finding 7) an empty gzip member in front of an
// export was accepted: the reader (a Gunzip, which reads on into a next member) compared only
// the last trailer with the CRC and size of all the data, to which an empty member adds
// nothing. Now the member's deflate data is inflated raw and must end exactly 8 bytes (its
// trailer) before the end of the file. This file also holds what that reader must still do:
// gzip headers with a name, comment, extra field or header CRC, damage anywhere, and the
// sha256 of the file's bytes that the second pass compares, at every read-chunk boundary.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataError } from '../../src/errors.js';
import { readLines } from '../../src/ops/transfer/reader.js';
import { rawDump } from '../../src/testing/transfer-suite.js';
import { DRIVERS, errorOf, opened, type Opened } from '../store-fixture.js';

/** A gzip member of `data` with header flags set by hand (RFC 1952 2.3): name, comment, extra, header CRC. */
function member(data: Buffer, o: { name?: string; comment?: string; extra?: Buffer; hcrc?: boolean | number } = {}): Buffer {
  const plain = gzipSync(data); // header 10 bytes, deflate data, trailer 8 bytes
  let flags = 0;
  const parts: Buffer[] = [];
  if (o.extra !== undefined) {
    flags |= 0x04;
    const len = Buffer.alloc(2);
    len.writeUInt16LE(o.extra.length);
    parts.push(len, o.extra);
  }
  if (o.name !== undefined) {
    flags |= 0x08;
    parts.push(Buffer.from(`${o.name}\0`, 'latin1'));
  }
  if (o.comment !== undefined) {
    flags |= 0x10;
    parts.push(Buffer.from(`${o.comment}\0`, 'latin1'));
  }
  if (o.hcrc !== undefined) flags |= 0x02;
  const head = Buffer.from(plain.subarray(0, 10));
  head[3] = flags;
  let header = Buffer.concat([head, ...parts]);
  if (o.hcrc !== undefined) {
    const crc = Buffer.alloc(2);
    crc.writeUInt16LE(typeof o.hcrc === 'number' ? o.hcrc : crc32(header) & 0xffff);
    header = Buffer.concat([header, crc]);
  }
  return Buffer.concat([header, plain.subarray(10)]);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe.each(DRIVERS)('the gzip members of an export file (%s)', (driver) => {
  let o: Opened;
  let good: Buffer;
  let text: Buffer;
  beforeEach(async () => {
    o = await opened(driver);
    const source = await opened('memory');
    await source.store.kv('a').setMany([
      ['k', 1],
      ['j', 'two'],
    ]);
    await source.store.collection('tasks', { indexes: ['s'] }).insert({ id: 't1', s: 'open' });
    const path = join(source.dir, 'good.strata');
    await source.store.export(path);
    good = readFileSync(path);
    text = gunzipSync(good);
    await source.dispose();
    await o.store.kv('a').set('mine', true);
  });
  afterEach(async () => {
    await o.dispose();
  });

  const importOf = async (bytes: Buffer): Promise<StrataError | string> => {
    const file = join(o.dir, 'x.strata');
    writeFileSync(file, bytes);
    return errorOf(o.store.import(file));
  };
  const refusedAsCorrupt = async (bytes: Buffer, message: RegExp): Promise<void> => {
    const before = await rawDump(o.store, Date.now());
    const e = await importOf(bytes);
    expect(e).toBeInstanceOf(StrataError);
    expect((e as StrataError).code, (e as StrataError).message).toBe('CORRUPT');
    expect((e as StrataError).message).toMatch(message);
    expect(await rawDump(o.store, Date.now())).toBe(before);
  };

  it('an empty member in front is CORRUPT, like one after, and the store is unchanged', async () => {
    const empty = gzipSync(Buffer.alloc(0));
    await refusedAsCorrupt(Buffer.concat([empty, good]), /more than one stream/);
    await refusedAsCorrupt(Buffer.concat([good, empty]), /more than one stream/);
    await refusedAsCorrupt(Buffer.concat([empty, empty, good]), /more than one stream/);
  });

  it('the same lines split over two members are CORRUPT (one member, as the format says)', async () => {
    const cut = text.indexOf(0x0a) + 1;
    await refusedAsCorrupt(
      Buffer.concat([gzipSync(text.subarray(0, cut)), gzipSync(text.subarray(cut))]),
      /more than one stream/,
    );
  });

  it('bytes after the member (zeros, garbage) are CORRUPT', async () => {
    await refusedAsCorrupt(Buffer.concat([good, Buffer.alloc(1)]), /bytes after its gzip stream/);
    await refusedAsCorrupt(Buffer.concat([good, Buffer.alloc(4096)]), /bytes after its gzip stream/);
    await refusedAsCorrupt(Buffer.concat([good, Buffer.from('junk')]), /bytes after its gzip stream/);
  });

  it('a file that is not gzip, or whose header is cut or has reserved flags or a wrong header CRC, is CORRUPT', async () => {
    await refusedAsCorrupt(text, /not gzip/);
    await refusedAsCorrupt(Buffer.alloc(0), /not gzip/);
    await refusedAsCorrupt(good.subarray(0, 15), /not gzip/);
    const reserved = Buffer.from(good);
    reserved[3] = 0x20;
    await refusedAsCorrupt(reserved, /not gzip/);
    await refusedAsCorrupt(member(text, { hcrc: 0x1234 }), /not gzip/);
    // A name with no NUL before the trailer: the header never ends.
    const open = member(text, { name: 'x' });
    await refusedAsCorrupt(Buffer.concat([open.subarray(0, 10), Buffer.alloc(40, 0x41), open.subarray(-8)]), /not gzip/);
  });

  it('a single member with a name, comment, extra field and header CRC is imported', async () => {
    const bytes = member(text, { name: 'app.strata', comment: 'c'.repeat(70_000), extra: Buffer.from('ab12'), hcrc: true });
    const report = await importOf(bytes).then(() => o.store.kv('a').get('j'));
    expect(report).toBe('two');
    expect(await o.store.describe('tasks')).toEqual({ key: 'id', indexes: ['s'], timestamps: false, ttl: null });
  });

  it('every truncation and a flip of every trailer byte is CORRUPT', async () => {
    for (let n = 0; n < good.length; n += Math.max(1, Math.floor(good.length / 60))) {
      await refusedAsCorrupt(good.subarray(0, n), /gzip|truncated|not/);
    }
    await refusedAsCorrupt(good.subarray(0, good.length - 1), /gzip|truncated/);
    for (let i = good.length - 8; i < good.length; i++) {
      const flipped = Buffer.from(good);
      flipped[i] = flipped[i]! ^ 0x01;
      await refusedAsCorrupt(flipped, /trailer does not match|bytes after/);
    }
  });
});

describe("readLines: the sha256 of the file's bytes (what the second pass compares)", () => {
  it('is the sha256 of the whole file whatever read chunk the trailer falls in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-gz-members-'));
    try {
      // Stored (level 0) members: their size follows the data, so the file can end at every
      // offset around a 64 KiB read boundary (the read stream starts after the 10-byte header).
      let checked = 0;
      for (let n = 130_900; n < 131_200 && checked < 40; n++) {
        const data = Buffer.alloc(n, 0x61);
        for (let i = 99; i < n; i += 100) data[i] = 0x0a;
        data[n - 1] = 0x0a;
        const bytes = gzipSync(data, { level: 0 });
        const boundary = (bytes.length - 10) % 65_536;
        if (boundary > 12 && boundary < 65_530) continue;
        const file = join(dir, `f${n}.gz`);
        writeFileSync(file, bytes);
        const digest: { sha256?: string } = {};
        let lines = 0;
        for await (const batch of readLines(file, digest)) lines += batch.length;
        expect(lines).toBe(data.filter((b) => b === 0x0a).length);
        expect(digest.sha256, `size ${bytes.length}`).toBe(sha(bytes));
        checked++;
      }
      expect(checked).toBeGreaterThan(10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
