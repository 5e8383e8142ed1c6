import { resolve } from 'node:path';
import { StrataError } from '../../errors.js';
import { ChangeHub, checkPurgeLimit, closedError } from '../base.js';
import type { Driver, DriverCapabilities } from '../driver.js';
import type { EngineOptions, FileCounters } from './engine.js';
import type { FileEngine } from './engine.js';
import { openEngine, verifyOffline } from './open.js';
import type { JournalMark } from './image.js';
import { journalMark } from './image.js';
import { collectImage, stateImage } from '../memory-image.js';

export type { FileCounters } from './engine.js';

export interface FileDriverOptions {
  /** Directory holding the store; created with mode 0700 when missing. */
  dir: string;
  /**
   * `'full'`: an acknowledged write survives power loss (the journal is fsynced; writes
   * issued together share one fsync). `'normal'`: it survives a crash of the process, not of
   * the machine.
   * @default 'full'
   */
  durability?: 'full' | 'normal';
  /**
   * Journal size in bytes past which it is folded into the snapshot files (it must also
   * have reached half the size of the spaces it changed, so big stores are not rewritten
   * for small changes).
   * @default 4194304 (4 MiB)
   */
  compactBytes?: number;
  /** How long a write waits for another process's lock before failing with `LOCKED`. @default 10000 */
  lockTimeoutMs?: number;
  /** Name shown in stats and errors. @default 'file' */
  name?: string;
}

/**
 * Test and diagnostics hook: `driver[fileInternals]()` returns the engine's counters and
 * a way to force a compaction, once the store is open.
 * @internal
 */
export const fileInternals: unique symbol = Symbol.for('stratadb.file.internals');

export interface FileInternals {
  counters: FileCounters;
  compact(): Promise<void>;
  lockStats: { acquired: number; brokeStale: number };
}

const CAPABILITIES: DriverCapabilities = {
  persistent: true,
  crossProcess: true,
  watchRemote: true,
  nativeIndexes: false,
  images: true,
};

/**
 * A store in a directory of human-readable JSON files. Several processes may share it: a
 * lock file serializes writers, readers notice others' writes with one stat().
 *
 * - `<space>.json`: one snapshot per space, pretty JSON with the values embedded;
 * - `journal.log`: append-only, one checksummed line per committed batch since the last
 *   compaction (a torn last line from a crash is dropped; damage before good lines is CORRUPT);
 * - `strata.lock` while a write is in progress, `strata.lock.<token>.owner` per open
 *   connection, `strata.compacting` and `.tmp-*` files during a compaction.
 */
export function fileDriver(options: FileDriverOptions): Driver & { [fileInternals](): Promise<FileInternals> } {
  const name = options.name ?? 'file';
  if (typeof options.dir !== 'string' || options.dir === '') {
    throw new StrataError('BAD_INPUT', 'the file driver needs a directory', {
      driver: name,
      hint: 'pass { dir: "path/to/store" }',
    });
  }
  const positive = (value: number | undefined, fallback: number, what: string): number => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value < 0)
      throw new StrataError('BAD_INPUT', `${what} must be a non-negative number`, { driver: name });
    return value;
  };
  if (options.durability !== undefined && options.durability !== 'full' && options.durability !== 'normal') {
    throw new StrataError('BAD_INPUT', `durability must be 'full' or 'normal'`, { driver: name });
  }
  const engineOptions: EngineOptions = {
    dir: resolve(options.dir),
    name,
    durability: options.durability ?? 'full',
    compactBytes: positive(options.compactBytes, 4 * 1024 * 1024, 'compactBytes'),
    lockTimeoutMs: positive(options.lockTimeoutMs, 10_000, 'lockTimeoutMs'),
  };
  const hub = new ChangeHub();
  let opening: Promise<FileEngine> | null = null;
  let engine: FileEngine | null = null;
  let closed = false;
  let closing: Promise<void> | null = null;
  let watchedSince: JournalMark | undefined;

  // Opened on first use, so building a driver has no side effects; a failed open (CORRUPT,
  // LOCKED) is reported by that call and retried by the next.
  const ready = (): Promise<FileEngine> => {
    if (closed) return Promise.reject(closedError(name));
    opening ??= openEngine(engineOptions, hub, () => watchedSince).then(
      (opened) => {
        engine = opened;
        opened.updatePolling();
        return opened;
      },
      (error: unknown) => {
        opening = null;
        throw error;
      },
    );
    return opening;
  };

  return {
    name,
    capabilities: CAPABILITIES,
    async ensureSpace(space) {
      await (await ready()).declare(space);
    },
    async spaces() {
      return (await ready()).read((state) => [...state.spaces.keys()].sort());
    },
    async get(space, key, now) {
      return (await ready()).read((state) => state.get(space, key, now));
    },
    async getMany(space, keys, now) {
      return (await ready()).read((state) => keys.map((key) => state.get(space, key, now)));
    },
    async scan(space, query, now) {
      return (await ready()).read((state) => state.scan(space, query, now));
    },
    async count(space, query, now) {
      return (await ready()).read((state) => state.count(space, query, now));
    },
    async batch(ops, now) {
      return (await ready()).batch(ops, now);
    },
    async purgeExpired(now, limit) {
      checkPurgeLimit(limit, name);
      return (await ready()).purge(now, limit);
    },
    watch(listener) {
      if (closed) throw closedError(name);
      const remove = hub.add(listener);
      if (engine) engine.updatePolling();
      else {
        // Not open yet: note where the journal stands, so changes committed before the
        // store opens still reach this listener. Polling starts once open; the next call
        // reports a failed open.
        if (watchedSince === undefined) watchedSince = journalMark(engineOptions.dir);
        ready().catch(() => {});
      }
      return () => {
        remove();
        engine?.updatePolling();
      };
    },
    async openImage(now) {
      return (await ready()).read((state) => stateImage(state, now));
    },
    async loadImage(source, options) {
      const engine = await ready();
      const records = await collectImage(source);
      return { records: await engine.load(records, options.mode, options.mergePrefix) };
    },
    async stats(now) {
      return (await ready()).stats(now);
    },
    async verify(options) {
      let opened: FileEngine;
      try {
        opened = await ready();
      } catch (error) {
        // A store too damaged to open can still be inspected: report every damaged file.
        if (!StrataError.is(error, 'CORRUPT')) throw error;
        return verifyOffline(engineOptions);
      }
      const report = await opened.verify();
      options?.onProgress?.({ phase: 'storage', checked: report.checked, total: report.checked });
      return report;
    },
    close() {
      if (closing) return closing;
      closed = true;
      const pending = opening;
      closing = (async () => {
        const opened = await pending?.catch(() => null);
        await opened?.close();
        hub.clear();
      })();
      return closing;
    },
    async [fileInternals]() {
      const opened = await ready();
      return { counters: opened.counters, compact: () => opened.compactNow(), lockStats: opened.lock };
    },
  };
}
