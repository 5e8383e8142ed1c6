// The sqlite driver reads the WAL before SQLite does: damage in the middle of it (or in its
// header while frames follow, or a WAL shorter than its -shm index records) is CORRUPT with
// every file left byte for byte as it was; a torn tail (a write in flight at a crash) and
// stale frames of an earlier generation open normally; `?recover=wal` copies the files aside
// and accepts the loss. New store files are never empty, and an empty one is CORRUPT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { StrataError } from '../../src/index.js';
import { strata, tempDir } from './helpers.js';
import { copyStore, dbPath, killedWriterStore, readEverything, snapshot } from './sqlite-damage-helpers.js';

const { openStore } = strata;
const N = 12;
const PAGE = 4096;
const FRAME = 24 + PAGE;
const frameAt = (i: number): number => 32 + i * FRAME;

let root: { path: string; dispose(): Promise<void> };
let base: string;
let expected: string;
let cases = 0;

beforeAll(async () => {
  root = await tempDir('strata-sqlite-wal');
  base = dbPath(join(root.path, 'base'));
  mkdirSync(join(root.path, 'base'));
  killedWriterStore(base, N);
  expect(statSync(`${base}-wal`).size).toBeGreaterThan(frameAt(10));
  expected = await readAll(fresh());
}, 30_000);
afterAll(async () => {
  await root.dispose();
});

/** A copy of the killed writer's store in a new directory. */
function fresh(): string {
  const dir = join(root.path, `case-${cases++}`);
  mkdirSync(dir);
  const path = dbPath(dir);
  copyStore(base, path);
  return path;
}

async function readAll(path: string, query = ''): Promise<string> {
  const store = await openStore({ url: `sqlite:${path}${query}`, sweepInterval: false });
  try {
    const data = await readEverything(store, N);
    const report = await store.verify();
    expect(report.ok, JSON.stringify(report.issues)).toBe(true);
    return data;
  } finally {
    await store.close();
  }
}

async function expectCorruptUntouched(path: string): Promise<StrataError> {
  const before = snapshot(path);
  const error = (await readAll(path).then(
    () => null,
    (e: unknown) => e,
  )) as StrataError | null;
  expect(error, 'a damaged WAL must not open').toBeInstanceOf(strata.StrataError);
  expect(error!.code, error!.message).toBe('CORRUPT');
  expect(snapshot(path), 'the files must be left exactly as they were').toEqual(before);
  return error!;
}

function flip(file: string, offset: number): void {
  const bytes = readFileSync(file);
  bytes[offset] = bytes[offset]! ^ 0x10;
  writeFileSync(file, bytes);
}

describe('sqlite WAL damage', () => {
  it('reads every acknowledged commit of a killed writer from its WAL', async () => {
    expect(JSON.parse(expected)[0]).toMatchObject({ key: 'k0', value: { i: 0 } });
    expect(await readAll(fresh())).toBe(expected);
  });

  it('refuses a WAL damaged in the middle (page byte, frame header, checksum, salt), files untouched', async () => {
    for (const offset of [
      frameAt(3) + 24 + 100,
      frameAt(3) + 2,
      frameAt(3) + 4,
      frameAt(3) + 9,
      frameAt(3) + 17,
      frameAt(3) + 23,
    ]) {
      const path = fresh();
      flip(`${path}-wal`, offset);
      const error = await expectCorruptUntouched(path);
      expect(error.hint).toContain('recover=wal');
    }
  });

  it('refuses a WAL whose header is damaged while frames follow', async () => {
    for (const offset of [0, 3, 5, 9, 13, 17, 21, 25, 30]) {
      const path = fresh();
      flip(`${path}-wal`, offset);
      await expectCorruptUntouched(path);
    }
  });

  it('refuses a WAL cut short of the commits its -shm index records', async () => {
    const path = fresh();
    truncateSync(`${path}-wal`, frameAt(5) + 1000);
    await expectCorruptUntouched(path);
  });

  it('opens a torn tail (a partial or bad last frame) and stale frames of an older generation', async () => {
    const wal = readFileSync(`${base}-wal`);
    const frames = Math.floor((wal.length - 32) / FRAME);
    // A write in flight: a frame header with the current salts and part of its page.
    const torn = fresh();
    appendFileSync(`${torn}-wal`, Buffer.concat([wal.subarray(frameAt(0), frameAt(0) + 24), Buffer.alloc(900, 7)]));
    expect(await readAll(torn)).toBe(expected);
    // A complete last frame whose checksum fails (torn inside the page).
    const bad = fresh();
    const last = Buffer.from(wal.subarray(frameAt(frames - 1), frameAt(frames)));
    last[24 + 50] = last[24 + 50]! ^ 1;
    appendFileSync(`${bad}-wal`, last);
    expect(await readAll(bad)).toBe(expected);
    // Leftovers of an earlier generation: frames with other salts after the valid ones.
    const stale = fresh();
    const old = Buffer.from(wal.subarray(frameAt(1), frameAt(3)));
    for (const at of [8, FRAME + 8]) old.writeUInt32BE((old.readUInt32BE(at) + 7) >>> 0, at);
    appendFileSync(`${stale}-wal`, old);
    expect(await readAll(stale)).toBe(expected);
  });

  it('recover=wal copies the files aside, then keeps the commits before the damage', async () => {
    const path = fresh();
    flip(`${path}-wal`, frameAt(6) + 24 + 10);
    const damaged = SUFFIXES_CONTENT(path);
    await expectCorruptUntouched(path);
    const store = await openStore({ url: `sqlite:${path}?recover=wal`, sweepInterval: false });
    try {
      const n = await store.kv('app').count();
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(N);
      expect((await store.verify()).ok).toBe(true);
    } finally {
      await store.close();
    }
    const dir = join(path, '..');
    const aside = readdirSync(dir).filter((f) => f.startsWith('store.db.damaged-'));
    expect(aside).toHaveLength(1);
    expect(SUFFIXES_CONTENT(join(dir, aside[0]!, 'store.db'))).toEqual(damaged);
    // Recovered: it now opens without the option, and a healthy store opens as usual with it.
    await readAll(path);
    await readAll(fresh(), '?recover=wal');
  });
});

const SUFFIXES_CONTENT = (path: string): string[] =>
  ['', '-wal', '-shm'].map((s) => (existsSync(path + s) ? readFileSync(path + s).toString('base64') : ''));

describe('sqlite store files', () => {
  it('an empty or cut-off store file is CORRUPT, never a new store; a directory is BAD_INPUT', async () => {
    const dir = join(root.path, 'files');
    mkdirSync(dir);
    for (const [name, bytes] of [
      ['empty.db', Buffer.alloc(0)],
      ['short.db', Buffer.from('SQLite for')],
      ['text.db', Buffer.from('hello, this is not a database at all '.repeat(10))],
    ] as const) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const error = await openStore({ url: `sqlite:${path}`, sweepInterval: false }).then(
        () => null,
        (e: unknown) => e as StrataError,
      );
      expect(error?.code, name).toBe('CORRUPT');
      expect(readFileSync(path)).toEqual(bytes);
    }
    const error = await openStore({ url: `sqlite:${dir}`, sweepInterval: false }).then(
      () => null,
      (e: unknown) => e as StrataError,
    );
    expect(error?.code).toBe('BAD_INPUT');
  });

  it('concurrent first opens by 4 processes agree on one complete file', async () => {
    const dir = join(root.path, 'race');
    mkdirSync(dir);
    const path = join(dir, 'new.db');
    const script = `import('${new URL('../../dist/index.js', import.meta.url).href}').then(async ({ openStore }) => {
      const store = await openStore({ url: 'sqlite:${path}', sweepInterval: false });
      await store.kv('app').set('p' + process.argv[1], 1);
      await store.close();
    });`;
    await Promise.all(
      [0, 1, 2, 3].map((i) => promisify(execFile)(process.execPath, ['-e', script, String(i)], { timeout: 20_000 })),
    );
    const store = await openStore({ url: `sqlite:${path}`, sweepInterval: false });
    try {
      expect((await store.kv('app').list()).sort()).toEqual(['p0', 'p1', 'p2', 'p3']);
    } finally {
      await store.close();
    }
    expect(readdirSync(dir).filter((f) => f.includes('.new-'))).toEqual([]);
  });
});
