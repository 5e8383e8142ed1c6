import type { BatchResult, Driver, DriverStats, ScanQuery, StoredRecord, VerifyReport, WriteOp } from './driver.js';
import { ChangeHub, checkPurgeLimit, closedError } from './base.js';
import { MemoryState, spaceStats } from './memory-state.js';
import { collectImage, loadMutations, stateImage } from './memory-image.js';

export interface MemoryDriverOptions {
  /** Name shown in stats and errors. @default 'memory' */
  name?: string;
}

/** Keeps everything in process memory: for tests, caches and throwaway stores. */
export function memoryDriver(options: MemoryDriverOptions = {}): Driver {
  const name = options.name ?? 'memory';
  const state = new MemoryState();
  const hub = new ChangeHub();
  let closed = false;

  const open = (): void => {
    if (closed) throw closedError(name);
  };
  // Async wrappers resolve on the next microtask, like a real backend, so callers cannot
  // come to rely on synchronous completion.
  return {
    name,
    capabilities: {
      persistent: false,
      crossProcess: false,
      watchRemote: false,
      nativeIndexes: false,
      syncReads: true,
      images: true,
    },
    async ensureSpace(space) {
      open();
      state.space(space);
    },
    async spaces() {
      open();
      return [...state.spaces.keys()].sort();
    },
    getSync(space, key, now) {
      open();
      return state.get(space, key, now);
    },
    async get(space, key, now) {
      open();
      return state.get(space, key, now);
    },
    async getMany(space, keys, now) {
      open();
      return keys.map((key) => state.get(space, key, now));
    },
    async scan(space: string, query: ScanQuery, now: number): Promise<StoredRecord[]> {
      open();
      return state.scan(space, query, now);
    },
    async count(space, query, now) {
      open();
      return state.count(space, query, now);
    },
    async batch(ops: readonly WriteOp[], now: number): Promise<BatchResult[]> {
      open();
      const plan = state.plan(ops, now, name);
      state.apply(plan.mutations);
      for (const m of plan.mutations) {
        hub.emit(
          m.record
            ? { space: m.space, key: m.key, type: 'put', version: m.record.version, value: m.record.value, origin: 'local' }
            : { space: m.space, key: m.key, type: 'delete', version: null, origin: 'local' },
        );
      }
      return plan.results;
    },
    async purgeExpired(now, limit) {
      open();
      checkPurgeLimit(limit, name);
      const mutations = state.expired(now, limit);
      state.apply(mutations);
      // A removal is a change like any delete (the file driver's watchers see it too).
      for (const m of mutations) hub.emit({ space: m.space, key: m.key, type: 'delete', version: null, origin: 'local' });
      return mutations.length;
    },
    watch(listener) {
      open();
      return hub.add(listener);
    },
    async stats(now = Date.now()): Promise<DriverStats> {
      open();
      return { driver: name, spaces: [...state.spaces].map(([space, records]) => spaceStats(space, records, now)) };
    },
    async verify(options): Promise<VerifyReport> {
      open();
      let checked = 0;
      for (const records of state.spaces.values()) checked += records.size;
      options?.onProgress?.({ phase: 'storage', checked, total: checked });
      return { ok: true, checked, issues: [] };
    },
    async openImage(now) {
      open();
      return stateImage(state, now);
    },
    async loadImage(source, options) {
      open();
      const records = await collectImage(source);
      open();
      const { mutations, spaces } = loadMutations(state, records, options.mode, options.mergePrefix);
      for (const r of records) state.space(r.space);
      state.apply(mutations);
      for (const space of [...spaces].sort()) hub.emit({ space, key: '', type: 'reset', version: null, origin: 'local' });
      return { records: records.length };
    },
    async close() {
      closed = true;
      hub.clear();
      state.spaces.clear();
    },
  };
}
