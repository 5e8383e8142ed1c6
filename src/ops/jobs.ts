import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Store } from '../store.js';
import type { DedupeOptions } from '../collection-types.js';
import { StrataError, withOp } from '../errors.js';
import { checkName } from '../codec/keys.js';
import { checkOptions } from '../codec/options.js';
import { parseDuration, storedDateMs, type Duration } from '../codec/duration.js';
import { parseDedupe } from '../collection-dedupe.js';
import { getPath } from '../query/match.js';
import { parseFilter, parsePath } from '../query/parse.js';
import { storeClock, type ScheduleContext, type ScheduledFunction } from './schedule.js';

export interface RetainOptions {
  /** Documents whose `field` is older than this are deleted, e.g. `'30d'`. */
  olderThan: Duration;
  /** The date field: an ISO string (what a `Date` is stored as) or epoch milliseconds. */
  field: string;
}

const FIELD_PATH = /^[^.\s]+(\.[^.\s]+)*$/;
const RETAIN_PAGE = 500;
/** Whether a stored field value is a date before `cutoff`: epoch ms, or exactly the ISO text a `Date` is stored as. */
function isOlder(value: unknown, cutoff: number): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && value < cutoff;
  if (typeof value !== 'string') return false;
  const at = storedDateMs(value);
  return at !== null && at < cutoff;
}

/**
 * Ready-made job functions for `store.schedule(cron, name, fn)`. Their arguments are checked
 * when they are made, so a typo fails at `schedule()` time rather than at 3 a.m.
 */
export const jobs = {
  /** `collection(name).dedupe(options)`: keep one document of each group of duplicates. */
  dedupe(collection: string, options?: DedupeOptions): ScheduledFunction<Store> {
    const op = 'jobs.dedupe';
    checkName(collection, 'collection', op);
    try {
      parseDedupe(options, op);
    } catch (error) {
      throw withOp(error, op); // a bad field path's refusal (parsePath) names no call
    }
    return async (store) => {
      await store.collection(collection).dedupe(options);
    };
  },

  /** Removes every expired record now, in bounded chunks (what the background sweeper does). */
  sweepExpired(): ScheduledFunction<Store> {
    return async (store) => {
      await store.purgeExpired();
    };
  },

  /**
   * Retention: deletes the documents of `collection` whose `field` is older than `olderThan`
   * at the time of the run, by the store's clock (`openStore({ clock })`, which also writes
   * `timestamps`). Documents without the field, or with a value that is neither an ISO date
   * string (exactly as a `Date` is stored) nor a number, are kept. It works one transaction
   * of 500 documents at a time and gives the event loop back between them. The function
   * resolves with the number of documents deleted (`strata prune` prints it).
   */
  retain(collection: string, options: RetainOptions): (store: Store, context?: ScheduleContext) => Promise<number> {
    const op = 'jobs.retain';
    checkName(collection, 'collection', op);
    if (options === null || typeof options !== 'object') {
      throw new StrataError('BAD_INPUT', `${op}: pass { olderThan, field }`, {
        op,
        hint: "e.g. jobs.retain('events', { olderThan: '30d', field: 'createdAt' })",
      });
    }
    checkOptions(options, ['olderThan', 'field'], op);
    let ageMs: number;
    try {
      ageMs = parseDuration(options.olderThan, 'olderThan');
    } catch (error) {
      throw withOp(error, op); // the shared duration parser names no call
    }
    const { field } = options;
    // Stored dates are ISO strings (Date's JSON form), which order as text; epoch ms are numbers.
    const olderThan = (cutoff: number) => ({
      $or: [{ [field]: { $lt: new Date(cutoff).toISOString() } }, { [field]: { $lt: cutoff } }],
    });
    // The filter each run will use is checked now, so a field the query language refuses
    // (`__proto__`, `$where`, a segment too long) fails at schedule() time too.
    let valid = typeof field === 'string' && FIELD_PATH.test(field);
    if (valid) {
      try {
        parseFilter(olderThan(0));
      } catch {
        valid = false;
      }
    }
    if (!valid) {
      throw new StrataError('BAD_INPUT', `${op}: field must be a (dotted) field path such as 'createdAt'`, {
        op,
        hint: "name the date field, e.g. field: 'createdAt' (CLI: --field createdAt)",
      });
    }
    const path = parsePath(field);
    return async (store) => {
      let now: number;
      try {
        now = storeClock(store)(); // checked by the store: BAD_INPUT when it is no time
      } catch (error) {
        throw withOp(error, op);
      }
      const cutoff = now - ageMs;
      const filter = olderThan(cutoff);
      const keyField = (await store.describe(collection))?.key ?? 'id';
      // The filter finds candidates (text compares as text: '' and '(none)' sort before any
      // date, and it matches arrays element by element); each is deleted only when its field
      // really is an old date. One transaction per page: a candidate changed meanwhile reruns it.
      // Between pages the event loop is given back (on SQLite and memory: every driver call
      // settles at once, so the whole run would otherwise be one macrotask); the cursor is a
      // keyset position, so writes made meanwhile make no page repeat or skip a document.
      let cursor: string | undefined;
      let deleted = 0;
      for (;;) {
        const [next, n] = await store.transaction(async (tx) => {
          const docs = tx.collection<Record<string, unknown>>(collection);
          const page = await docs.page(filter, { limit: RETAIN_PAGE, ...(cursor === undefined ? {} : { cursor }) });
          let removed = 0;
          for (const doc of page.items) {
            if (isOlder(getPath(doc, path), cutoff) && (await docs.delete(String(doc[keyField])))) removed++;
          }
          return [page.next, removed] as const;
        });
        deleted += n;
        if (next === null) return deleted;
        cursor = next;
        await nextTurn();
      }
    };
  },
};
