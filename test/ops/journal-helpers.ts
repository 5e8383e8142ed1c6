// Shared plumbing for the journal and point-in-time tests: the built package's internals
// (the tests run dist/, like the child processes), raw dumps below encryption, and a
// "backup" made by hand (every record of the store) until the backup helper's images land.
import { join } from 'node:path';
import type { Driver, StoredRecord } from '../../src/drivers/driver.js';
import type * as LayerApi from '../../src/layers/journal.js';
import type * as PitrApi from '../../src/ops/pitr.js';
import type * as EntryApi from '../../src/ops/journal-entry.js';
import type { SpaceRecords } from '../../src/ops/pitr-replay.js';

const dist = (path: string): string => new URL(`../../dist/${path}`, import.meta.url).href;
export const layer = (await import(dist('layers/journal.js'))) as typeof LayerApi;
export const pitr = (await import(dist('ops/pitr.js'))) as typeof PitrApi;
export const entries = (await import(dist('ops/journal-entry.js'))) as typeof EntryApi;

export const DRIVERS = [
  { name: 'sqlite', url: (dir: string) => `sqlite:${join(dir, 's.db')}` },
  { name: 'file', url: (dir: string) => `file:${join(dir, 'f')}` },
  { name: 'memory', url: () => 'memory:' },
] as const;

/** The drivers several processes can share, for the cross-process journal tests. */
export const SHARED_DRIVERS = [
  { name: 'sqlite', url: (d: string) => `sqlite:${join(d, 's.db')}?durability=normal` },
  { name: 'file', url: (d: string) => `file:${join(d, 'f')}?durability=normal` },
] as const;

/** The driver under the journal layer of a store's stack: values as stored (ciphertext stays ciphertext). */
export function rawDriver(store: { driver: Driver }): Driver {
  const journal = layer.journalLayerOf(store.driver);
  if (journal === undefined) throw new Error('the store has no journal layer');
  return journal.inner;
}

/** A record without its stamp, which tells writes apart only within one open driver (a restore makes new ones). */
export function unstamped(record: StoredRecord): StoredRecord {
  const { stamp: _stamp, ...rest } = record;
  return rest;
}

/** Every live record of every space, below encryption. */
export async function dumpAll(driver: Driver, now: number): Promise<SpaceRecords> {
  const out: SpaceRecords = new Map();
  for (const space of await driver.spaces()) {
    const records = await driver.scan(space, {}, now);
    if (records.length > 0) out.set(space, new Map(records.map((r) => [r.key, unstamped(r)])));
  }
  return out;
}

/** User spaces (kv.*, c.*) as sorted plain data, for equality checks. */
export function userView(records: SpaceRecords): Record<string, StoredRecord[]> {
  const out: Record<string, StoredRecord[]> = {};
  for (const space of [...records.keys()].sort()) {
    if (!space.startsWith('kv.') && !space.startsWith('c.')) continue;
    const list = [...records.get(space)!.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    if (list.length > 0) out[space] = list.map((r) => ({ ...r }));
  }
  return out;
}

/** The highest seq a set of records holds in meta.journal (what a backup manifest calls journalSeq). */
export function journalSeqOf(records: SpaceRecords): number {
  const keys = [...(records.get('meta.journal')?.keys() ?? [])].sort();
  return keys.length === 0 ? 0 : Number(keys.at(-1));
}

/** A hand-made backup: every record now, its time and journal point. */
export async function handBackup(driver: Driver, at: number): Promise<PitrApi.PitrBase> {
  const records = await dumpAll(driver, at);
  return { records, at, journalSeq: journalSeqOf(records) };
}

/** A controllable clock: `tick(ms)` moves it on. */
export function testClock(start = Date.UTC(2026, 11, 1, 9, 0, 0)): { now: () => number; tick(ms?: number): number } {
  let t = start;
  return {
    now: () => t,
    tick(ms = 1000) {
      t += ms;
      return t;
    },
  };
}

export async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`expected ${code}, but it resolved`);
  const actual = (error as { code?: string }).code;
  if (actual !== code) throw new Error(`expected ${code}, got ${actual}: ${String(error)}`);
}

import type * as ImageApi from '../../src/ops/image.js';
import type * as RestoreApi from '../../src/ops/pitr-restore.js';
export const image = (await import(dist('ops/image.js'))) as typeof ImageApi;
export const restore = (await import(dist('ops/pitr-restore.js'))) as typeof RestoreApi;

/** A backup as the backup helper's images make it: a snapshot of every record, its time and journal point. */
export async function imageBackup(store: ImageApi.ImageStore, at: number): Promise<PitrApi.PitrBase> {
  const records = await restore.imageRecords(await image.snapshotRecords(store, { now: at }));
  return { records, at, journalSeq: journalSeqOf(records) };
}

import type * as ReadApi from '../../src/ops/journal-read.js';
import type * as ReplayApi from '../../src/ops/pitr-replay.js';
export const read = (await import(dist('ops/journal-read.js'))) as typeof ReadApi;
export const replay = (await import(dist('ops/pitr-replay.js'))) as typeof ReplayApi;
import type * as MemoryApi from '../../src/drivers/memory.js';
export const memory = (await import(dist('drivers/memory.js'))) as typeof MemoryApi;
