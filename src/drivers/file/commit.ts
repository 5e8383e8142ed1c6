import type { BatchResult, WriteOp } from '../driver.js';
import type { Mutation } from '../memory-state.js';
import { MemoryState } from '../memory-state.js';
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
  const scratch = new MemoryState();
  const copied = new Set<string>();
  for (const work of group) {
    if (work.kind !== 'batch') continue;
    for (const op of work.ops) {
      if (op.type === 'checkScan') scratch.copySpaceFrom(state, op.space); // a scan check reads the whole space
      const id = `${op.space}\u0000${op.key}`;
      if (copied.has(id)) continue;
      copied.add(id);
      const record = state.spaces.get(op.space)?.get(op.key);
      if (record) scratch.space(op.space).set(op.key, record);
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
      const plan = scratch.plan(canonicalOps(work.ops, work.now, driver), work.now, driver);
      scratch.apply(plan.mutations);
      if (plan.mutations.length > 0) lines.push(encodeEntry(++seq, plan.mutations));
      planned.push({ work, result: plan.results, mutations: plan.mutations, declare: [] });
    } catch (error) {
      work.reject(error);
    }
  }
  return { planned, lines, seq };
}
