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
  // Stored as safe integers only (toJSON's shape): a string or a Date-like value was not
  // written by the kit.
  const isInt = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x);
  for (const r of v.covered as unknown[])
    if (!Array.isArray(r) || r.length !== 2 || !isInt(r[0]) || !isInt(r[1]))
      corrupt('covered holds something that is not a [lo, hi] range of safe integers');
  let covered: RangeSet;
  try {
    covered = RangeSet.from(v.covered as Array<[number, number]>, op);
  } catch {
    return corrupt('covered holds a range whose start is after its end');
  }
  return { covered, checkpoint: (v.checkpoint ?? null) as C | null, updatedAt: v.updatedAt };
}
