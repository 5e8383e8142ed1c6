// One mirrored stream of a paginated source (e.g. the runs of one workflow): its covered
// ranges, its checkpoint, and the items it saves. Every save is ONE store transaction that
// upserts the items (in batches), merges the ranges they complete and moves the checkpoint,
// so after a crash (SIGKILL included) the checkpoint never claims items that are not there
// and items are never there without their checkpoint: a resumed walk neither skips nor
// refetches a committed page. Built on the public Store API only.
import { StrataError, type Store } from '../../index.js';
import { withOp } from '../../errors.js';
import { ownerOf } from '../../handle-owner.js';
import type { Bound } from './bounds.js';
import { toBound } from './bounds.js';
import { ItemDetails, refuseStreamsNamespace } from './details.js';
import {
  checkKnown,
  checkName,
  checkStore,
  checkStreamName,
  clockOption,
  functionOption,
  intOption,
  openKv,
  STREAMS_NAMESPACE,
} from './options.js';
import type { RangeSet } from './ranges.js';
import { toRange, type Range } from './ranges.js';
import { decodeState, encodeState, type StreamState } from './state.js';

export interface SyncStreamOptions<T extends object> {
  /** The collection the items are saved in (its handle, declared with its key field). */
  collection: { readonly name: string };
  /** The cursor value of an item (e.g. `(run) => run.created_at`), for `pageRange` / `isPageCovered`. */
  cursor?: (item: T) => Bound;
  /** Items per `upsertMany` call inside a save's transaction. @default 50 */
  batchSize?: number;
  /** The kv namespace stream states are kept in (one key per stream). @default 'sync.streams' */
  namespace?: string;
  /** Epoch ms for `updatedAt`. @default Date.now */
  clock?: () => number;
}

export interface SaveOptions<C> {
  /** Cursor ranges that, with these items, the mirror now holds completely. */
  cover?: ReadonlyArray<readonly [Bound, Bound]>;
  /** The new checkpoint; `null` clears it (the walk finished); left out keeps the old one. */
  checkpoint?: C | null;
}

export interface SaveResult {
  /** Items upserted. */
  saved: number;
  /** `upsertMany` calls made (all inside the one transaction). */
  batches: number;
  /** The covered ranges after the save. */
  covered: RangeSet;
}

const OPTIONS = ['collection', 'cursor', 'batchSize', 'namespace', 'clock'] as const;
const SAVE = ['cover', 'checkpoint'] as const;

/**
 * The collection's name, when `handle` was made by `store.collection()` of this very store.
 * Saves go through `store` by that name, so a handle of another store (or of a closed one,
 * even of the same file) would put the items in the wrong place under the wrong declaration.
 */
function checkOwner(handle: { name: string }, store: Store, op: string): string {
  const owner = ownerOf(handle);
  // Compared by driver stack (one per opened store): with a logger, openStore hands out a
  // logging wrapper of the store, while the handle was recorded by the store itself.
  if (owner !== undefined && owner.driver === store.driver) return handle.name;
  const name = JSON.stringify(handle.name);
  const what =
    owner === undefined
      ? "was not made by store.collection() (a transaction's handle or another object)"
      : owner.closed
        ? 'belongs to a closed store, not to the one this stream is for'
        : 'belongs to another store than the one this stream is for';
  throw new StrataError('BAD_INPUT', `${op}: the collection handle ${name} ${what}`, {
    op,
    hint: `pass collection: store.collection('${handle.name}') of the store given to new SyncStream(store, ...)`,
    details: { option: 'collection' },
  });
}

/** One stream of a mirror. `T` is the item type, `C` the checkpoint (any JSON value). */
export class SyncStream<T extends object, C = unknown> {
  readonly name: string;
  readonly namespace: string;
  readonly #store: Store;
  readonly #collection: string;
  readonly #cursor: ((item: T) => Bound) | undefined;
  readonly #batchSize: number;
  readonly #now: (op: string) => number;

  constructor(store: Store, name: string, options: SyncStreamOptions<T>) {
    const op = 'SyncStream';
    // The store first: the handle check below compares against it.
    const checked = checkStore(store, op);
    this.name = checkStreamName(name, op);
    if (options === undefined || options === null || typeof options !== 'object')
      throw new StrataError('BAD_INPUT', `${op}: pass options with the collection the items go to`, {
        op,
        hint: "new SyncStream(store, 'runs', { collection: store.collection('runs') })",
      });
    checkKnown(options, OPTIONS, op);
    const col: unknown = options.collection;
    if (col === null || typeof col !== 'object' || typeof (col as { name?: unknown }).name !== 'string')
      throw new StrataError('BAD_INPUT', `${op}: collection must be a collection handle`, {
        op,
        hint: "pass collection: store.collection('runs', { key: 'id' })",
        details: { option: 'collection' },
      });
    this.#collection = checkOwner(col as { name: string }, checked, op);
    this.#cursor = functionOption<(item: T) => Bound>(options.cursor, 'cursor', op);
    this.#batchSize = intOption(options.batchSize, 50, 'batchSize', op, 1, 10_000);
    // Only a left-out namespace takes the default: `null` is a mistake like `batchSize: null`.
    this.namespace = checkName(options.namespace === undefined ? STREAMS_NAMESPACE : options.namespace, 'namespace', op);
    this.#now = clockOption(options.clock, op);
    this.#store = checked;
    // Opening the handle checks the namespace's characters now, not at the first save.
    openKv(checked, this.namespace, op);
  }

  /** Covered ranges, checkpoint and last save time, as one consistent read. */
  async state(): Promise<StreamState<C>> {
    const op = 'stream.state';
    try {
      return decodeState<C>(await this.#store.kv(this.namespace).get(this.name), this.name, this.namespace, op);
    } catch (error) {
      throw withOp(error, op);
    }
  }

  async covered(): Promise<RangeSet> {
    return (await this.state()).covered;
  }

  async checkpoint(): Promise<C | null> {
    return (await this.state()).checkpoint;
  }

  /** Whether the mirror holds every item with a cursor value in `[lo, hi]`. */
  async isCovered(lo: Bound, hi: Bound): Promise<boolean> {
    const range = toRange(lo, hi, 'stream.isCovered');
    return (await this.covered()).covers(range[0], range[1]);
  }

  /** The parts of `[lo, hi]` the mirror does not hold yet. */
  async gaps(lo: Bound, hi: Bound): Promise<Range[]> {
    const range = toRange(lo, hi, 'stream.gaps');
    return (await this.covered()).gaps(range[0], range[1]);
  }

  /** `[min, max]` of the page's cursor values, or `null` for an empty page. Needs `cursor`. */
  pageRange(items: readonly T[]): Range | null {
    const op = 'stream.pageRange';
    const cursor = this.#needCursor(op);
    if (!Array.isArray(items))
      throw new StrataError('BAD_INPUT', `${op}: pass the page's items as an array`, {
        op,
        hint: "pass the page's items as an array: the objects fetched, holding the cursor field",
      });
    let lo = Infinity;
    let hi = -Infinity;
    for (const item of items) {
      if (item === null || typeof item !== 'object')
        throw new StrataError('BAD_INPUT', `${op}: each item must be an object, not ${item === null ? 'null' : typeof item}`, {
          op,
          hint: "pass the page's items as fetched (objects holding the cursor field)",
        });
      const v = toBound(cursor(item), 'an item cursor', op);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return items.length === 0 ? null : [lo, hi];
  }

  /**
   * Whether a fetched page holds nothing new: its `[min, max]` cursor range is covered. An
   * empty page is not (there is nothing to skip). Needs `cursor`.
   */
  async isPageCovered(items: readonly T[]): Promise<boolean> {
    const range = this.pageRange(items);
    return range !== null && (await this.covered()).covers(range[0], range[1]);
  }

  /**
   * Saves a page: upserts `items` in batches of `batchSize`, merges `cover` into the covered
   * ranges and sets `checkpoint`, all in one transaction (all or nothing; a concurrent save
   * of the same stream makes it rerun, never lose a range).
   */
  async save(items: readonly T[], options: SaveOptions<C> = {}): Promise<SaveResult> {
    const op = 'stream.save';
    checkKnown(options, SAVE, op);
    if (!Array.isArray(items))
      throw new StrataError('BAD_INPUT', `${op}: pass the items as an array (may be empty)`, {
        op,
        hint: 'pass stream.save(items, { cover, checkpoint }), or stream.save([], { checkpoint }) to move only the checkpoint',
      });
    const cover = options.cover ?? [];
    if (!Array.isArray(cover))
      throw new StrataError('BAD_INPUT', `${op}: cover must be a list of [lo, hi] ranges`, {
        op,
        hint: 'pass cover: [[lo, hi]]',
      });
    const ranges = cover.map((r: unknown) => {
      if (!Array.isArray(r) || r.length !== 2)
        throw new StrataError('BAD_INPUT', `${op}: each cover entry must be a [lo, hi] pair`, {
          op,
          hint: 'pass cover: [[lo, hi]], e.g. [[1, 40]]',
        });
      return toRange(r[0] as Bound, r[1] as Bound, op);
    });
    const setCheckpoint = 'checkpoint' in options && options.checkpoint !== undefined;
    try {
      return await this.#store.transaction(async (tx) => {
        const kv = tx.kv<unknown>(this.namespace);
        const state = decodeState<C>(await kv.get(this.name), this.name, this.namespace, op);
        const collection = tx.collection<T>(this.#collection);
        let batches = 0;
        for (let i = 0; i < items.length; i += this.#batchSize) {
          const batch = items.slice(i, i + this.#batchSize) as unknown as Parameters<typeof collection.upsertMany>[0];
          await collection.upsertMany(batch);
          batches++;
        }
        for (const [lo, hi] of ranges) state.covered.add(lo, hi, op);
        if (setCheckpoint) state.checkpoint = options.checkpoint ?? null;
        await kv.set(this.name, encodeState(state, this.#now(op)));
        return { saved: items.length, batches, covered: state.covered };
      });
    } catch (error) {
      throw withOp(error, op);
    }
  }

  /** Forgets the stream's ranges and checkpoint (its items stay): the next walk starts over. */
  async reset(): Promise<void> {
    try {
      await this.#store.kv(this.namespace).delete(this.name);
    } catch (error) {
      throw withOp(error, 'stream.reset');
    }
  }

  /**
   * Per-item details kept in kv `namespace` (e.g. a run's jobs): "already fetched?" checks.
   * Never in the namespace of the stream states (this stream's, or `sync.streams`).
   */
  details<D>(namespace: string): ItemDetails<D> {
    refuseStreamsNamespace(namespace, this.namespace, 'stream.details');
    return new ItemDetails<D>(this.#store, namespace);
  }

  #needCursor(op: string): (item: T) => Bound {
    if (this.#cursor !== undefined) return this.#cursor;
    throw new StrataError('BAD_INPUT', `${op}: this stream has no cursor`, {
      op,
      hint: 'open the stream with cursor: (item) => item.created_at (or another cursor field)',
    });
  }
}
