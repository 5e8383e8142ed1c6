// Damage sweep of the sqlite driver: one flipped byte (or a truncation) at thousands of
// offsets of every file it writes. For each, opening, reading everything through every read
// path and verify() give either exactly the acknowledged data or CORRUPT (on open, on a read
// or from verify) with the store file and its WAL byte for byte as they were (an empty WAL
// counts as none; the -shm is SQLite's index of the WAL, rebuilt from it on open, so it may
// change). Never different data.
// Two stores: one closed cleanly (a single file) and one whose writer was SIGKILLed, so its
// WAL holds every acknowledged commit. Offsets: every byte of the headers (database, WAL and
// every WAL frame header, -shm), and a stratified sample of every page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StrataError } from '../../src/index.js';
import { rng } from '../rng.js';
import { strata, tempDir } from './helpers.js';
import { cleanStore, copyStore, dbPath, killedWriterStore, readEverything, snapshot } from './sqlite-damage-helpers.js';

const N = 6;
const PAGE = 4096;
const FRAME = 24 + PAGE;
/** Sampled bytes per page besides its first 16 (page / b-tree header). */
const SAMPLES_PER_PAGE = 4;

type Mutation = { file: '' | '-wal' | '-shm'; flip?: number; truncate?: number };
type Outcome = 'same' | 'corrupt-open' | 'corrupt-read' | 'corrupt-verify';

let root: { path: string; dispose(): Promise<void> };
let trials = 0;
beforeAll(async () => {
  root = await tempDir('strata-sqlite-damage');
});
afterAll(async () => {
  await root.dispose();
});

async function openReadVerify(path: string): Promise<{ data: string; ok: boolean }> {
  const store = await strata.openStore({ url: `sqlite:${path}`, sweepInterval: false });
  try {
    const data = await readEverything(store, N);
    return { data, ok: (await store.verify()).ok };
  } finally {
    await store.close();
  }
}

/** One damaged copy of `base`: what a program sees, or the violation found. */
async function trial(base: string, expected: string, m: Mutation): Promise<Outcome | string> {
  const dir = join(root.path, `t${trials++}`);
  mkdirSync(dir);
  const path = dbPath(dir);
  try {
    copyStore(base, path);
    const file = path + m.file;
    if (m.flip !== undefined) {
      const bytes = readFileSync(file);
      bytes[m.flip] = bytes[m.flip]! ^ 0x5a;
      writeFileSync(file, bytes);
    } else truncateSync(file, m.truncate);
    const before = snapshot(path);
    let opened = false;
    let result: { data: string; ok: boolean } | null = null;
    let error: unknown = null;
    try {
      const store = await strata.openStore({ url: `sqlite:${path}`, sweepInterval: false });
      opened = true;
      try {
        result = { data: await readEverything(store, N), ok: (await store.verify()).ok };
      } finally {
        await store.close();
      }
    } catch (e) {
      error = e;
    }
    // The database file and its WAL must be as they were; the -shm is SQLite's index of the
    // WAL, rebuilt from it on open, so it may differ (or appear).
    const after = snapshot(path);
    const untouched = after[0] === before[0] && after[1] === before[1];
    if (error !== null) {
      const code = (error as StrataError).code;
      if (!(error instanceof strata.StrataError) || code !== 'CORRUPT') return `error ${code}: ${(error as Error).message}`;
      if (!untouched) return `CORRUPT ${opened ? 'on a read' : 'on open'} but the files changed`;
      return opened ? 'corrupt-read' : 'corrupt-open';
    }
    if (!result!.ok) return untouched ? 'corrupt-verify' : 'verify found damage but the files changed';
    return result!.data === expected ? 'same' : 'different data with verify ok';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every offset in [from, to), clipped to the file. */
const range = (from: number, to: number, size: number): number[] =>
  Array.from({ length: Math.max(0, Math.min(to, size) - from) }, (_, i) => from + i);

function pageSample(start: number, length: number, random: () => number): number[] {
  const out = range(start, start + 16, start + length);
  for (let i = 0; i < SAMPLES_PER_PAGE; i++) out.push(start + 16 + Math.floor(random() * (length - 16)));
  return out;
}

function dbMutations(path: string, random: () => number): Mutation[] {
  const size = statSync(path).size;
  const offsets = new Set(range(0, 100, size));
  for (let page = 0; page * PAGE < size; page++) for (const o of pageSample(page * PAGE, PAGE, random)) offsets.add(o);
  const out: Mutation[] = [...offsets].map((flip) => ({ file: '', flip }));
  for (const at of [0, 50, 100, PAGE, size - PAGE, size - 1]) out.push({ file: '', truncate: at });
  return out;
}

function walMutations(path: string, random: () => number): Mutation[] {
  const size = statSync(`${path}-wal`).size;
  const frames = Math.floor((size - 32) / FRAME);
  const out: Mutation[] = range(0, 32, size).map((flip) => ({ file: '-wal', flip }));
  for (let f = 0; f < frames; f++) {
    const at = 32 + f * FRAME;
    for (const flip of range(at, at + 24, size)) out.push({ file: '-wal', flip });
    for (const flip of pageSample(at + 24, PAGE, random)) out.push({ file: '-wal', flip });
    out.push({ file: '-wal', truncate: at }, { file: '-wal', truncate: at + 24 + Math.floor(random() * PAGE) });
  }
  out.push({ file: '-wal', truncate: 0 }, { file: '-wal', truncate: 20 });
  for (const flip of range(0, 136, statSync(`${path}-shm`).size)) out.push({ file: '-shm', flip });
  out.push({ file: '-shm', truncate: 0 });
  return out;
}

async function sweep(name: string, base: string, mutations: Mutation[]): Promise<Record<string, number>> {
  const expected = (await openReadVerify(copyOf(base))).data;
  const counts: Record<string, number> = {};
  const violations: string[] = [];
  for (const m of mutations) {
    const outcome = await trial(base, expected, m);
    counts[outcome] = (counts[outcome] ?? 0) + 1;
    if (!['same', 'corrupt-open', 'corrupt-read', 'corrupt-verify'].includes(outcome)) {
      violations.push(`${m.file || 'db'} ${m.flip === undefined ? `truncated to ${m.truncate}` : `byte ${m.flip}`}: ${outcome}`);
    }
  }
  console.log(`[sqlite damage] ${name}: ${mutations.length} cases ${JSON.stringify(counts)}`);
  expect(violations.slice(0, 20), `${violations.length} violations`).toEqual([]);
  return counts;
}

function copyOf(base: string): string {
  const dir = join(root.path, `pristine-${trials++}`);
  mkdirSync(dir);
  copyStore(base, dbPath(dir));
  return dbPath(dir);
}

describe('sqlite damage sweep', () => {
  it('a cleanly closed store: flips and truncations of the database file', async () => {
    const dir = join(root.path, 'clean');
    mkdirSync(dir);
    const base = dbPath(dir);
    await cleanStore(base, N);
    await sweep('clean db', base, dbMutations(base, rng(1)));
  }, 60_000);

  it('a SIGKILLed writer: flips and truncations of the WAL, its frame headers, the -shm and the database file', async () => {
    const dir = join(root.path, 'killed');
    mkdirSync(dir);
    const base = dbPath(dir);
    killedWriterStore(base, N);
    const random = rng(2);
    await sweep('killed writer', base, [...walMutations(base, random), ...dbMutations(base, random)]);
  }, 90_000);
});
