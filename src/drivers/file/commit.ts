import type { BatchResult, RawRecord, WriteOp } from '../driver.js';
import { loadMutations } from '../memory-image.js';
import type { Mutation, UsageBase } from '../memory-state.js';
import { addLive, addLiveAt, coveredSpaces, MemoryState } from '../memory-state.js';
import { recordBytes, type Usage } from '../quota-usage.js';
import { newestEntry } from '../memory-journal.js';
import { JOURNAL_SPACE } from '../../ops/journal-entry.js';
import { encodeEntry } from './journal.js';
import { canonicalValue, checkTimes } from './record.js';

/** A write waiting for the next group commit. */
export type Work =
  | {
      kind: 'batch';
      ops: readonly WriteOp[];
      now: number;
      resolve: (results: BatchResult[]) => void;
      reject: (error: unknown) => void;
    }
  | { kind: 'declare'; space: string; resolve: (value: undefined) => void; reject: (error: unknown) => void }
  | {
      /** A whole image written verbatim (ops/image.ts `loadRecords`): one journal line. */
      kind: 'load';
      records: readonly RawRecord[];
      mode: 'replace' | 'merge';
      /** Spaces merged even in a replace (see LoadOptions in driver.ts). */
      mergePrefix: string | undefined;
      resolve: (loaded: number) => void;
      reject: (error: unknown) => void;
    }
  | {
      kind: 'purge';
      now: number;
      /** At most this many records; all when absent. */
      limit: number | undefined;
      resolve: (removed: number) => void;
      reject: (error: unknown) => void;
    };

export interface Planned {
  work: Work;
  result: BatchResult[] | number | undefined;
  mutations: Mutation[];
  declare: string[];
}

export interface GroupPlan {
  planned: Planned[];
  /** One journal line per planned write that changes something. */
  lines: Buffer[];
  /** Seq of the last line. */
  seq: number;
}

/** Settles a planned write with its result. */
export function resolveWork(p: Planned): void {
  (p.work.resolve as (value: unknown) => void)(p.result);
}

function canonicalOps(ops: readonly WriteOp[], now: number, driver: string): readonly WriteOp[] {
  let out: WriteOp[] | undefined;
  ops.forEach((op, i) => {
    if (op.type !== 'put') return;
    checkTimes(now, op.expiresAt, driver);
    const value = canonicalValue(op.value, driver);
    if (value === op.value) return;
    out ??= [...ops];
    out[i] = { ...op, value };
  });
  return out ?? ops;
}

/**
 * Plans a group of writes against `state` without changing it. Each batch is checked in
 * order against the effect of the ones before it, so they behave as if committed one by
 * one; a batch that fails (CONFLICT, bad input) is rejected here and the others go on.
 * Batches are planned on a scratch state holding copies of just the records they touch:
 * `MemoryState.plan` looks at nothing else.
 */
export function planGroup(state: MemoryState, group: readonly Work[], seq: number, driver: string): GroupPlan {
  const planned: Planned[] = [];
  const lines: Buffer[] = [];
  if (group.length === 1 && group[0]!.kind === 'purge') {
    const work = group[0]!;
    const mutations = state.expired(work.now, work.limit);
    if (mutations.length > 0) lines.push(encodeEntry(++seq, mutations));
    planned.push({ work, result: mutations.length, mutations, declare: [] });
    return { planned, lines, seq };
  }
  if (group.length === 1 && group[0]!.kind === 'load') {
    const work = group[0]!;
    try {
      const records = work.records.map((r) => {
        checkTimes(r.updatedAt, r.expiresAt, driver);
        const value = canonicalValue(r.value, driver);
        return value === r.value ? r : { ...r, value };
      });
      const { mutations } = loadMutations(state, records, work.mode, work.mergePrefix);
      const declare = [...new Set(records.map((r) => r.space))].filter((space) => !state.spaces.has(space));
      if (mutations.length > 0 || declare.length > 0) lines.push(encodeEntry(++seq, mutations, declare));
      planned.push({ work, result: records.length, mutations, declare });
    } catch (error) {
      work.reject(error);
    }
    return { planned, lines, seq };
  }
  const scratch = new MemoryState();
  const usage = new GroupUsage(state, scratch);
  for (const work of group) {
    if (work.kind !== 'batch') continue;
    for (const op of work.ops) {
      if (op.type === 'checkQuota') continue; // measured through `usage`, not copied
      if (op.type === 'checkScan') usage.copyWhole(op.space); // a scan check reads the whole space
      if (op.type === 'journal') {
        copyJournalHead(state, usage);
        continue;
      }
      usage.copy(op.space, op.key);
    }
  }
  const declared = new Set<string>();
  for (const work of group) {
    if (work.kind === 'declare') {
      const fresh = !state.spaces.has(work.space) && !declared.has(work.space);
      if (fresh) {
        declared.add(work.space);
        lines.push(encodeEntry(++seq, [], [work.space]));
      }
      planned.push({ work, result: undefined, mutations: [], declare: fresh ? [work.space] : [] });
      continue;
    }
    if (work.kind !== 'batch') continue;
    try {
      const plan = scratch.plan(canonicalOps(work.ops, work.now, driver), work.now, driver, usage);
      scratch.apply(plan.mutations);
      if (plan.mutations.length > 0) lines.push(encodeEntry(++seq, plan.mutations));
      planned.push({ work, result: plan.results, mutations: plan.mutations, declare: [] });
    } catch (error) {
      work.reject(error);
    }
  }
  return { planned, lines, seq };
}

/** A `journal` op numbers on from the newest entry: the scratch state must hold it. */
function copyJournalHead(state: MemoryState, usage: GroupUsage): void {
  const newest = newestEntry(state.spaces.get(JOURNAL_SPACE));
  if (newest !== undefined) usage.copy(JOURNAL_SPACE, newest.key);
}

/**
 * The usage quota checks measure from while a group is planned: the store's image with the
 * scratch state (the records the group touches, as earlier batches of it left them) in
 * place of the records it copied. Only the copied records are walked, except when the
 * exact count of a whole space is needed.
 */
class GroupUsage implements UsageBase {
  readonly #state: MemoryState;
  readonly #scratch: MemoryState;
  /** Per space, the keys copied into the scratch state. */
  readonly #copied = new Map<string, Set<string>>();
  /** Spaces copied whole (for a `checkScan`): the scratch state holds all of them. */
  readonly #whole = new Set<string>();

  constructor(state: MemoryState, scratch: MemoryState) {
    this.#state = state;
    this.#scratch = scratch;
  }

  copy(space: string, key: string): void {
    let keys = this.#copied.get(space);
    if (keys === undefined) this.#copied.set(space, (keys = new Set()));
    if (keys.has(key)) return;
    keys.add(key);
    if (this.#whole.has(space)) return;
    const record = this.#state.spaces.get(space)?.get(key);
    if (record) this.#scratch.space(space).set(key, record);
  }

  copyWhole(space: string): void {
    this.#scratch.copySpaceFrom(this.#state, space);
    this.#whole.add(space);
  }

  #spaces(space: string): string[] {
    return coveredSpaces(space, new Set([...this.#state.spaces.keys(), ...this.#scratch.spaces.keys()]));
  }

  bound(space: string): Usage {
    const usage = { records: 0, bytes: 0 };
    for (const name of this.#spaces(space)) {
      const scratch = this.#scratch.spaces.get(name);
      usage.records += scratch?.size ?? 0;
      usage.bytes += scratch?.bytes ?? 0;
      if (this.#whole.has(name)) continue;
      const records = this.#state.spaces.get(name);
      if (records === undefined) continue;
      usage.records += records.size;
      usage.bytes += records.bytes;
      for (const key of this.#copied.get(name) ?? []) {
        const r = records.get(key);
        if (r === undefined) continue;
        usage.records--;
        usage.bytes -= recordBytes(r);
      }
    }
    return usage;
  }

  live(space: string, now: number): Usage {
    const usage = { records: 0, bytes: 0 };
    for (const name of this.#spaces(space)) {
      addLive(usage, this.#scratch.spaces.get(name), now);
      if (this.#whole.has(name)) continue;
      const records = this.#state.spaces.get(name);
      addLive(usage, records, now);
      const copied = { records: 0, bytes: 0 };
      addLiveAt(copied, records, this.#copied.get(name) ?? [], now);
      usage.records -= copied.records;
      usage.bytes -= copied.bytes;
    }
    return usage;
  }
}
