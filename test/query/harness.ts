// Shared helpers of the cross-driver query tests: the same collection on memory, sqlite and file.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../src/index.js';

export const DRIVERS = ['memory', 'sqlite', 'file'] as const;
export type DriverName = (typeof DRIVERS)[number];

export interface Env {
  stores: Record<DriverName, Store>;
  /** Closes and reopens the sqlite: and file: stores (memory: stays). */
  reopen(): Promise<void>;
  dispose(): Promise<void>;
}

export async function openAll(): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-query-'));
  const stores = {} as Record<DriverName, Store>;
  const urls = {} as Record<DriverName, string>;
  for (const d of DRIVERS) {
    const url = d === 'memory' ? 'memory:' : d === 'sqlite' ? `sqlite:${join(dir, 's.db')}` : `file:${join(dir, 'fs')}`;
    urls[d] = url;
    stores[d] = await openStore({ url, sweepInterval: false } as never);
  }
  return {
    stores,
    async reopen() {
      for (const d of ['sqlite', 'file'] as const) {
        await stores[d].close();
        stores[d] = await openStore({ url: urls[d], sweepInterval: false } as never);
      }
    },
    async dispose() {
      for (const d of DRIVERS) await stores[d].close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A collection as these tests drive it: with filters and sorts of any shape, hostile ones included. */
export interface LooseCollection {
  query(filter?: unknown, options?: unknown): Promise<Array<{ id: string }>>;
  count(filter?: unknown): Promise<number>;
  deleteWhere(filter: unknown): Promise<number>;
  page(filter: unknown, options: unknown): Promise<{ items: Array<{ id: string }>; next: string | null }>;
  iterate(filter: unknown, options: unknown): AsyncIterable<{ id: string }>;
  insertMany(docs: unknown[]): Promise<unknown>;
  upsertMany(docs: unknown[]): Promise<unknown>;
  upsert(doc: unknown): Promise<unknown>;
  delete(key: string): Promise<boolean>;
}

/** Inserts docs into collection `name` (with `indexes`) on each driver; returns the collections. */
export async function seed(env: Env, name: string, docs: object[], indexes: string[] = []) {
  const out = {} as Record<DriverName, LooseCollection>;
  for (const d of DRIVERS) {
    const c = env.stores[d].collection(name, { key: 'id', indexes } as never);
    if (docs.length) await c.insertMany(docs as never);
    out[d] = c as unknown as LooseCollection;
  }
  return out;
}

export async function outcome(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await fn() };
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string; hint?: string };
    return err?.name === 'StrataError'
      ? { code: err.code, hasHint: typeof err.hint === 'string' }
      : { crash: `${err?.name}: ${err?.message}` };
  }
}

export const ids = (docs: Array<{ id: string }>): string[] => docs.map((d) => d.id);

export async function walk(c: LooseCollection, filter: object, sort: object | undefined, limit: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null | undefined = undefined;
  for (let i = 0; i < 10_000; i++) {
    const p: { items: Array<{ id: string }>; next: string | null } = await c.page(filter, { sort, limit, cursor });
    out.push(...ids(p.items));
    if (p.next === null) return out;
    cursor = p.next;
  }
  throw new Error('page walk did not end');
}
