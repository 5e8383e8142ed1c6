import type { Path } from './query/ast.js';
import type { StoredRecord } from './drivers/driver.js';
import type { DedupeKeep, DedupeOptions } from './collection-types.js';
import { StrataError } from './errors.js';
import { checkOptions } from './codec/options.js';
import { compareStrings, compareValues, getPath, sortValues } from './query/match.js';
import { parsePath } from './query/parse.js';
import { isPlainObject } from './collection-docs.js';

/** A parsed `dedupe` request. */
export interface DedupePlan {
  by: Path[];
  /** +1: the greatest wins (`newest`), -1: the smallest wins (`oldest`). */
  dir: 1 | -1;
  /** The field that decides, or `null` for the last write time. */
  field: Path | null;
}

export function parseDedupe(options: DedupeOptions | undefined, op: string): DedupePlan {
  checkOptions(options, ['by', 'keep'], op);
  // Only a left-out option takes its default: `null` is a wrong type (README), refused below.
  const raw: unknown = options?.by === undefined ? 'id' : options.by;
  const by = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? [...(raw as unknown[])] : null;
  if (by === null || by.length === 0 || by.some((p) => typeof p !== 'string')) {
    throw new StrataError('BAD_INPUT', `${op}: "by" must be a field path or a non-empty array of them`, {
      op,
      hint: "e.g. { by: 'email' } or { by: ['email', 'name'] }; leave it out to group by 'id'",
    });
  }
  const keep: unknown = options?.keep === undefined ? 'newest' : options.keep;
  const bad = (): StrataError =>
    new StrataError('BAD_INPUT', `${op}: keep must be 'newest', 'oldest', { newest: field } or { oldest: field }`, {
      op,
      hint: "e.g. { keep: 'oldest' } or { keep: { newest: 'score' } }; leave it out for 'newest'",
    });
  let plan: Pick<DedupePlan, 'dir' | 'field'>;
  if (keep === 'newest' || keep === 'oldest') plan = { dir: keep === 'newest' ? 1 : -1, field: null };
  else if (isPlainObject(keep)) {
    const names = Object.keys(keep);
    if (names.length !== 1 || (names[0] !== 'newest' && names[0] !== 'oldest')) throw bad();
    const field = (keep as Record<string, unknown>)[names[0]];
    if (typeof field !== 'string') throw bad();
    plan = { dir: names[0] === 'newest' ? 1 : -1, field: parsePath(field) };
  } else throw bad();
  return { by: (by as string[]).map((p) => parsePath(p)), ...plan };
}

interface Candidate {
  key: string;
  version: number;
  stamp: number | undefined;
  at: number;
  /** The deciding field's value; `undefined` when absent or not comparable. */
  value: unknown;
}

/** Groups documents by their `by` values and keeps one of each group; the rest are losers. */
export class DedupeGroups {
  readonly #plan: DedupePlan;
  readonly #keepers = new Map<string, Candidate>();
  /** Each with the version and stamp it was judged at: deleted only if still that write. */
  readonly losers: Array<Pick<Candidate, 'key' | 'version' | 'stamp'>> = [];

  constructor(plan: DedupePlan) {
    this.#plan = plan;
  }

  /** True when `a` should survive over `b`. */
  #better(a: Candidate, b: Candidate): boolean {
    const dir = this.#plan.dir;
    if (this.#plan.field !== null) {
      if ((a.value === undefined) !== (b.value === undefined)) return a.value !== undefined;
      if (a.value !== undefined) {
        const c = compareValues(a.value, b.value);
        if (c !== 0) return c * dir > 0;
      }
    }
    if (a.at !== b.at) return (a.at - b.at) * dir > 0;
    return compareStrings(a.key, b.key) * dir > 0;
  }

  add(record: StoredRecord, doc: unknown): void {
    const values = sortValues(
      doc,
      this.#plan.by.map((path) => ({ path, dir: 1 as const })),
    );
    // A document without every `by` field is in no group: nothing to compare it with.
    if (values.some((v) => v === null)) return;
    const group = JSON.stringify(values);
    let value: unknown;
    if (this.#plan.field !== null) {
      const found = getPath(doc, this.#plan.field);
      const comparable = typeof found === 'string' || typeof found === 'number' || typeof found === 'boolean';
      value = comparable ? found : undefined;
    }
    const candidate: Candidate = { key: record.key, version: record.version, stamp: record.stamp, at: record.updatedAt, value };
    const current = this.#keepers.get(group);
    if (current === undefined) this.#keepers.set(group, candidate);
    else if (this.#better(candidate, current)) {
      this.losers.push(current);
      this.#keepers.set(group, candidate);
    } else this.losers.push(candidate);
  }
}

export type { DedupeKeep };
