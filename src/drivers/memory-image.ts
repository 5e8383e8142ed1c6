import { compareStrings } from '../query/match.js';
import type { RawRecord, RecordImage } from './driver.js';
import type { MemoryState, Mutation } from './memory-state.js';

/**
 * Whole-store images of a `MemoryState` (the memory driver, and the file driver's in-RAM
 * image). The state is read synchronously, so the copy is one point in time by construction;
 * records are immutable objects, so the image shares them instead of copying values.
 */
export function stateImage(state: MemoryState, now: number): RecordImage {
  const spaces = [...state.spaces.keys()].sort(compareStrings);
  const records: RawRecord[] = [];
  for (const space of spaces) {
    const map = state.spaces.get(space)!;
    const keys = [...map.keys()].sort(compareStrings);
    for (const key of keys) {
      const r = map.get(key)!;
      if (r.expiresAt !== null && r.expiresAt <= now) continue;
      records.push({
        space,
        key: r.key,
        value: r.value,
        version: r.version,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
        expiresAt: r.expiresAt,
      });
    }
  }
  return arrayImage(spaces, records);
}

/** A RecordImage over records already in memory. */
export function arrayImage(spaces: readonly string[], records: readonly RawRecord[]): RecordImage {
  let closed = false;
  return {
    spaces,
    async *[Symbol.asyncIterator]() {
      for (const record of records) {
        if (closed) return;
        yield record;
      }
    },
    async close() {
      closed = true;
    },
  };
}

/** Reads a whole image source into memory (drivers whose data lives in RAM anyway). */
export async function collectImage(source: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of source) out.push(r);
  return out;
}

/**
 * The mutations that make `state` hold `records` (mode 'replace': exactly them, except in
 * spaces starting with `mergePrefix`; 'merge': them over what is there), and the spaces they
 * touch. Changes nothing.
 */
export function loadMutations(
  state: MemoryState,
  records: readonly RawRecord[],
  mode: 'replace' | 'merge',
  mergePrefix?: string,
): { mutations: Mutation[]; spaces: Set<string> } {
  const mutations: Mutation[] = [];
  const touched = new Set<string>();
  const given = new Map<string, Set<string>>();
  for (const r of records) {
    let keys = given.get(r.space);
    if (keys === undefined) given.set(r.space, (keys = new Set()));
    keys.add(r.key);
  }
  if (mode === 'replace') {
    for (const [space, map] of state.spaces) {
      if (mergePrefix !== undefined && space.startsWith(mergePrefix)) continue;
      const keep = given.get(space);
      for (const key of map.keys()) {
        if (keep?.has(key)) continue;
        mutations.push({ space, key, record: null });
        touched.add(space);
      }
    }
  }
  for (const r of records) {
    // A stamp is only meaningful in the state that gave it: the loaded record gets a new one.
    const { space, stamp: _stamp, ...record } = r;
    mutations.push({ space, key: r.key, record });
    touched.add(space);
  }
  return { mutations, spaces: touched };
}
