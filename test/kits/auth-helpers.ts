// Shared plumbing for the auth kit tests: a store per driver with one fake clock for both the
// store and the kit, and raw views of what the kit wrote (to prove no secret is in them).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, StrataError, type Store } from '../../src/index.js';

export const DRIVERS = ['memory', 'sqlite', 'file'] as const;
export type DriverName = (typeof DRIVERS)[number];

export const START = Date.UTC(2026, 0, 1);
export const MINUTE = 60_000;
export const DAY = 86_400_000;

export interface TestStore {
  store: Store;
  dir: string;
  /** The fake time, shared by the store's TTL and the kit: move it with `advance`. */
  clock: () => number;
  advance(ms: number): void;
  /** Closes the store and removes its files. */
  dispose(): Promise<void>;
}

export function urlFor(driver: DriverName, dir: string): string {
  if (driver === 'memory') return 'memory:';
  if (driver === 'sqlite') return `sqlite:${join(dir, 'auth.db')}?durability=normal`;
  return `file:${join(dir, 'store')}?durability=normal`;
}

export async function testStore(driver: DriverName): Promise<TestStore> {
  const dir = mkdtempSync(join(tmpdir(), `strata-auth-${driver}-`));
  let now = START;
  const clock = (): number => now;
  const store = await openStore({ url: urlFor(driver, dir), clock, sweepInterval: false });
  return {
    store,
    dir,
    clock,
    advance: (ms) => {
      now += ms;
    },
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The code of the StrataError `fn` rejects with, `'resolved'` when it does not. */
export async function code(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof StrataError) return error.code;
    throw error;
  }
  return 'resolved';
}

/** Every key and value of a namespace as a plain kv handle sees them, as one text. */
export async function rawDump(store: Store, namespace: string): Promise<{ keys: string[]; text: string }> {
  const kv = store.kv(namespace);
  const keys = await kv.list();
  const parts: string[] = [];
  for await (const [key, value] of kv.entries()) parts.push(key, JSON.stringify(value));
  return { keys, text: parts.join('\n') };
}

/** The bytes of every file under `dir` (SQLite file, WAL, JSON snapshots, journals...). */
export function filesUnder(dir: string): Array<{ path: string; bytes: Buffer }> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push({ path, bytes: readFileSync(path) });
  }
  return out;
}

/** Paths of files under `dir` that contain `secret` (as UTF-8 bytes). */
export function filesContaining(dir: string, secret: string): string[] {
  const needle = Buffer.from(secret, 'utf8');
  return filesUnder(dir)
    .filter((f) => f.bytes.includes(needle))
    .map((f) => f.path);
}
