// Stores for probe tests: the same calls on memory, sqlite and file, each in a temp directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, StrataError, type Store } from '../src/index.js';

export const DRIVERS = ['memory', 'sqlite', 'file'] as const;
export type DriverName = (typeof DRIVERS)[number];

export interface Opened {
  url: string;
  dir: string;
  store: Store;
  open(extra?: Record<string, unknown>): Promise<Store>;
  dispose(): Promise<void>;
}

export async function opened(driver: DriverName, extra: Record<string, unknown> = {}): Promise<Opened> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-fixture-'));
  const url = driver === 'memory' ? 'memory:' : driver === 'sqlite' ? `sqlite:${join(dir, 's.db')}` : `file:${join(dir, 'fs')}`;
  const stores: Store[] = [];
  const open = async (more: Record<string, unknown> = {}): Promise<Store> => {
    const s = await openStore({ url, sweepInterval: false, ...extra, ...more } as never);
    stores.push(s);
    return s;
  };
  const store = await open();
  return {
    url,
    dir,
    store,
    open,
    async dispose() {
      for (const s of stores) await s.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'OK';
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string };
    return err?.name === 'StrataError' ? String(err.code) : `NOT_STRATA:${err?.name}:${err?.message}`;
  }
}

/** What `p` was refused with: the StrataError, or a string saying it resolved or threw something else. */
export const errorOf = (p: Promise<unknown>): Promise<StrataError | string> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof StrataError ? e : `not a StrataError: ${String(e)}`),
  );
