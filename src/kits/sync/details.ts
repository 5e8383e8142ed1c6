// Per-item details fetched with a call of their own (a run's jobs, an issue's comments),
// one kv value per item key. Their presence IS the "already fetched" mark, and an item whose
// details are an empty list still has them, so it is not fetched again.
import { StrataError, type KvNamespace, type Store } from '../../index.js';
import { withOp } from '../../errors.js';
import { checkName, checkStore, openKv, STREAMS_NAMESPACE } from './options.js';

const PAIRS_HINT = "pass a list of [key, details] pairs, e.g. [['run-1', jobs]]";

/**
 * Refuses a details namespace that holds stream states: details are one kv value per item
 * key, so the details of an item keyed like a stream would replace that stream's ranges and
 * checkpoint (and leave it CORRUPT).
 */
export function refuseStreamsNamespace(namespace: string, streams: string, op: string): void {
  if (namespace !== streams) return;
  throw new StrataError('BAD_INPUT', `${op}: kv "${namespace}" holds stream states; details kept there would overwrite them`, {
    op,
    hint: "keep details in a namespace of their own, e.g. stream.details('jobs_by_run')",
    details: { namespace },
  });
}

export class ItemDetails<D> {
  readonly namespace: string;
  readonly #kv: KvNamespace<D>;

  constructor(store: Store, namespace: string) {
    const op = 'stream.details';
    const checked = checkStore(store, op);
    this.namespace = checkName(namespace, 'the details namespace', op);
    refuseStreamsNamespace(this.namespace, STREAMS_NAMESPACE, op);
    this.#kv = openKv<D>(checked, this.namespace, op);
  }

  /** Whether the item's details are already held. */
  async has(key: string): Promise<boolean> {
    try {
      return await this.#kv.has(key);
    } catch (error) {
      throw withOp(error, 'details.has');
    }
  }

  /** The keys (deduplicated, in order) whose details are not held yet: what to fetch. */
  async missing(keys: readonly string[]): Promise<string[]> {
    const op = 'details.missing';
    if (!Array.isArray(keys))
      throw new StrataError('BAD_INPUT', `${op}: pass the item keys as an array`, {
        op,
        hint: "pass a list of item keys, e.g. details.missing(['run-1', 'run-2'])",
      });
    const unique = [...new Set(keys)];
    try {
      const held = await this.#kv.getMany(unique);
      return unique.filter((_, i) => held[i] === null);
    } catch (error) {
      throw withOp(error, op);
    }
  }

  async get(key: string): Promise<D | null> {
    try {
      return await this.#kv.get(key);
    } catch (error) {
      throw withOp(error, 'details.get');
    }
  }

  /** Saves one item's details (any JSON value but `null`). */
  save(key: string, details: D): Promise<void> {
    return this.saveMany([[key, details]]);
  }

  /** Saves several items' details in one atomic batch. */
  async saveMany(entries: ReadonlyArray<readonly [string, D]>): Promise<void> {
    const op = 'details.save';
    if (!Array.isArray(entries)) throw new StrataError('BAD_INPUT', `${op}: pass [key, details] pairs`, { op, hint: PAIRS_HINT });
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length !== 2)
        throw new StrataError('BAD_INPUT', `${op}: each entry must be a [key, details] pair`, { op, hint: PAIRS_HINT });
      if (entry[1] === null || entry[1] === undefined)
        throw new StrataError(
          'BAD_INPUT',
          `${op}: details of "${String(entry[0])}" must be a JSON value, not ${String(entry[1])}`,
          {
            op,
            hint: 'save [] for an item that has no details: it then counts as fetched',
          },
        );
    }
    try {
      await this.#kv.setMany(entries);
    } catch (error) {
      throw withOp(error, op);
    }
  }
}
