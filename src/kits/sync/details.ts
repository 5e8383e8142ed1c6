// Per-item details fetched with a call of their own (a run's jobs, an issue's comments),
// one kv value per item key. Their presence IS the "already fetched" mark, and an item whose
// details are an empty list still has them, so it is not fetched again.
import { StrataError, type KvNamespace, type Store } from '../../index.js';
import { withOp } from '../../errors.js';
import { checkName } from './options.js';

export class ItemDetails<D> {
  readonly namespace: string;
  readonly #kv: KvNamespace<D>;

  constructor(store: Store, namespace: string) {
    this.namespace = checkName(namespace, 'the details namespace', 'stream.details');
    this.#kv = store.kv<D>(this.namespace);
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
    if (!Array.isArray(keys)) throw new StrataError('BAD_INPUT', `${op}: pass the item keys as an array`, { op });
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
    if (!Array.isArray(entries)) throw new StrataError('BAD_INPUT', `${op}: pass [key, details] pairs`, { op });
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length !== 2)
        throw new StrataError('BAD_INPUT', `${op}: pass [key, details] pairs`, { op });
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
