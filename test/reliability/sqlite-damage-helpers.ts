// Shared by the sqlite damage tests: stores with acknowledged data (closed cleanly, or with
// the writer SIGKILLed so the WAL holds the commits), a full read of everything, and byte
// snapshots of the store files.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../../src/index.js';
import { fixture, strata } from './helpers.js';

export const SUFFIXES = ['', '-wal', '-shm'] as const;

/** sha256 of db, -wal and -shm ('' when absent or empty: SQLite treats both alike). */
export function snapshot(path: string): string[] {
  return SUFFIXES.map((s) =>
    existsSync(path + s) && statSync(path + s).size > 0
      ? createHash('sha256')
          .update(readFileSync(path + s))
          .digest('hex')
      : '',
  );
}

export function copyStore(from: string, to: string): void {
  for (const s of SUFFIXES) if (existsSync(from + s)) copyFileSync(from + s, to + s);
}

/** A store written by a child that is then SIGKILLed: its WAL holds `n` x 2 acknowledged commits. */
export function killedWriterStore(path: string, n: number): void {
  try {
    execFileSync(process.execPath, [fixture('sqlite-killed-writer.mjs'), path, String(n)], { stdio: 'pipe', timeout: 20_000 });
  } catch (error) {
    const out = String((error as { stdout?: Buffer }).stdout ?? '');
    if (!out.includes(`acked ${n}`)) throw error;
  }
}

/** The same data written by this process and closed cleanly (no WAL left). */
export async function cleanStore(path: string, n: number): Promise<void> {
  const store = await strata.openStore({ url: `sqlite:${path}`, sweepInterval: false });
  const kv = store.kv('app');
  const docs = store.collection('docs', { indexes: ['n'] });
  for (let i = 0; i < n; i++) {
    await kv.set(`k${i}`, { i, s: 'v'.repeat(i % 7) });
    await docs.insert({ id: `d${i}`, n: i, tag: i % 3 === 0 ? 'a' : 'b' });
  }
  await store.close();
}

/** Everything a program could read, through every read path, as one comparable string. */
export async function readEverything(store: Store, n: number): Promise<string> {
  const kv = store.kv('app');
  const docs = store.collection('docs', { indexes: ['n'] });
  const keys = Array.from({ length: n }, (_, i) => `k${i}`);
  const out: unknown[] = [];
  for (const key of keys) out.push(await kv.getEntry(key));
  out.push(await kv.getMany(keys));
  const entries: unknown[] = [];
  for await (const entry of kv.entries()) entries.push(entry);
  out.push(entries, await kv.list(), await kv.count());
  for (let i = 0; i < n; i++) out.push(await docs.getEntry(`d${i}`));
  out.push(
    await docs.query({}),
    await docs.query({ n: { $gte: 0 } }, { sort: { n: -1 } }),
    await docs.query({ tag: 'a' }),
    await docs.count({ tag: 'b' }),
    await docs.count(),
    await docs.keys(),
    await store.names(),
  );
  return JSON.stringify(out);
}

export const dbPath = (dir: string): string => join(dir, 'store.db');

/** XORs the byte at `offset` of `file` with `mask`, in place. */
export function flipByte(file: string, offset: number, mask: number): void {
  const fd = openSync(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, offset);
    byte[0] = byte[0]! ^ mask;
    writeSync(fd, byte, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}
