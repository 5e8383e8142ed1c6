// A stream's state as it is kept in the store: one kv value per stream, holding its covered
// ranges, its checkpoint and when it was last saved. Read back strictly: a value that is not
// this shape was damaged (or written by something else) and is CORRUPT, never half-trusted.
import { StrataError } from '../../index.js';
import { RangeSet } from './ranges.js';

export interface StreamState<C> {
  /** The cursor values every item of which the mirror holds. */
  covered: RangeSet;
  /** Where the last save said the walk got to; `null` when none (finished, or never started). */
  checkpoint: C | null;
  /** Epoch ms of the last save; `null` before the first. */
  updatedAt: number | null;
}

export interface StoredState {
  covered: Array<[number, number]>;
  checkpoint: unknown;
  updatedAt: number;
}

export function emptyState<C>(): StreamState<C> {
  return { covered: new RangeSet(), checkpoint: null, updatedAt: null };
}

export function encodeState<C>(state: StreamState<C>, updatedAt: number): StoredState {
  return { covered: state.covered.toJSON(), checkpoint: state.checkpoint ?? null, updatedAt };
}

export function decodeState<C>(value: unknown, stream: string, namespace: string, op: string): StreamState<C> {
  if (value === null || value === undefined) return emptyState();
  const corrupt = (why: string): never => {
    throw new StrataError('CORRUPT', `${op}: the state of stream "${stream}" in kv "${namespace}" is damaged: ${why}`, {
      op,
      hint: `delete the key "${stream}" from kv "${namespace}" (stream.reset()) to collect the stream again from scratch`,
    });
  };
  if (typeof value !== 'object' || Array.isArray(value)) return corrupt('not an object');
  const v = value as Record<string, unknown>;
  if (!Array.isArray(v.covered)) return corrupt('covered is not a list');
  if (typeof v.updatedAt !== 'number') return corrupt('updatedAt is not a number');
  // encodeState always writes the key (null when there is none): without it, this was not
  // written by the kit, and a missing checkpoint must not quietly read as "walk finished".
  if (!('checkpoint' in v)) return corrupt('it has no checkpoint');
  const why = rangesProblem(v.covered as unknown[]);
  if (why !== null) return corrupt(why);
  return {
    covered: RangeSet.from(v.covered as Array<[number, number]>, op),
    checkpoint: v.checkpoint as C | null,
    updatedAt: v.updatedAt,
  };
}

/**
 * What is wrong with a stored `covered` list, or `null` when it is what `toJSON` writes: pairs
 * of safe integers (a string or a Date-like value was not written by the kit), each in order,
 * sorted, disjoint and non-adjacent. Anything else would be merged into ranges the kit never
 * saved, so it is refused rather than repaired.
 */
function rangesProblem(covered: readonly unknown[]): string | null {
  const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
  let previousEnd: number | null = null;
  for (const r of covered) {
    if (!Array.isArray(r) || r.length !== 2 || !isInt(r[0]) || !isInt(r[1]))
      return 'covered holds something that is not a [lo, hi] range of safe integers';
    if (r[0] > r[1]) return 'covered holds a range whose start is after its end';
    // `+ 1` stays exact: previousEnd is at most END, and END + 1 is still an exact double.
    if (previousEnd !== null && r[0] <= previousEnd + 1)
      return 'covered is not sorted, disjoint and non-adjacent, as the kit writes it';
    previousEnd = r[1];
  }
  return null;
}
