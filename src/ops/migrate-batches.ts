import { StrataError } from '../errors.js';
import { retryOnConflict } from '../context.js';
import type { Checkpoint } from './migrate-records.js';
import type { BatchFunction, BatchesOptions, MigrationContext } from './migrate-types.js';
import { checkOptions } from '../codec/options.js';
import type { Unit } from './migrate-unit.js';

/** What `m.batches` needs from the run: a fresh unit per batch, and the checkpoint to commit with it. */
export interface BatchDriver {
  readonly migration: string;
  /** The checkpoint a killed run left for this migration, if any. */
  readonly resumeFrom: Checkpoint | null;
  newUnit(): Unit;
  /** A context whose writes go to `unit`. */
  contextFor(unit: Unit): MigrationContext;
  /** Commits `unit` together with `checkpoint` in the run record. */
  commitBatch(unit: Unit, checkpoint: Checkpoint): Promise<void>;
  /** Called after each committed batch, for onProgress. */
  progress(done: number, total: number): void;
}

const MAX_SIZE = 10_000;

/**
 * `m.batches(collection, { size }, fn)`: walks the collection in key order, `size` documents
 * at a time. Each batch is one unit: `fn`'s writes and the checkpoint (this call's index and
 * the last key) commit together, so a run killed mid-walk resumes after the last committed
 * batch and never applies a batch twice. Returns the number of documents walked.
 */
export function makeBatches(run: BatchDriver, outer: () => Unit): MigrationContext['batches'] {
  let calls = 0;
  return async (collection: string, options: BatchesOptions, fn: BatchFunction): Promise<number> => {
    const op = 'm.batches';
    checkOptions(options, ['size'], op);
    const size = options?.size ?? 500;
    if (!Number.isSafeInteger(size) || size < 1 || size > MAX_SIZE) {
      throw new StrataError('BAD_INPUT', `${op}: size must be a whole number from 1 to ${MAX_SIZE}`, { op });
    }
    if (typeof fn !== 'function')
      throw new StrataError('BAD_INPUT', `${op}: the third argument must be a function (docs, m) => ...`, { op });
    if (outer().sqlOpen) {
      throw new StrataError('BAD_INPUT', `${op}: m.sql was used before m.batches in this migration`, {
        op,
        hint: 'run the SQL inside the batch function (its m.sql), or after m.batches returns',
      });
    }
    const call = calls++;
    const resume = run.resumeFrom;
    if (resume !== null && resume.call > call) return 0; // this walk finished before the process died
    let after = resume !== null && resume.call === call ? resume.after : null;
    let done = resume !== null && resume.call === call ? resume.done : 0;
    const total = await run.newUnit().scope.collection(collection).count();
    for (;;) {
      const finished = await retryOnConflict(async () => {
        const unit = run.newUnit();
        const handle = unit.scope.collection(collection);
        const keys = await handle.keys(after === null ? { limit: size } : { limit: size, after });
        if (keys.length === 0) return true;
        const docs: Array<Record<string, unknown>> = [];
        for (const key of keys) {
          const doc = await handle.get(key);
          if (doc !== null) docs.push(doc as Record<string, unknown>);
        }
        try {
          await fn(docs, run.contextFor(unit));
        } catch (error) {
          unit.rollback();
          throw error;
        }
        const last = keys[keys.length - 1]!;
        await run.commitBatch(unit, { migration: run.migration, call, after: last, done: done + keys.length });
        after = last;
        done += keys.length;
        return keys.length < size;
      }, 20);
      run.progress(done, Math.max(total, done));
      if (finished) return done;
    }
  };
}
