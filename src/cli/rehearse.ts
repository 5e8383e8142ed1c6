import { openStore, type Store } from '../store.js';
import type { RawRecord } from '../drivers/driver.js';

/**
 * "A failed write leaves the store exactly as it was." The library makes a space on the
 * first use of a handle, and remembers a collection declared with options (its key field) in
 * `meta.collections`, before the write itself is checked: a `set` refused there (a --patch of
 * a missing document, a key that differs, a `__proto__` field, --if-version on a new key) left
 * an empty space and a declaration behind, and a collection keyed by "id" from then on.
 *
 * So a write that would first create something (`space` is not in the store yet, or
 * `declares`: the collection's declaration is not remembered) is made on a scratch memory
 * store first, holding the same record of `key` when the store has one: the library's own
 * checks, exactly. One refused there is refused without touching the store; one accepted is
 * then made for real.
 */
export async function rehearsed<T>(
  store: Store,
  { space, key, declares }: { space: string; key: string; declares: boolean },
  write: (store: Store) => Promise<T>,
): Promise<T> {
  const spaces = await store.driver.spaces();
  if (spaces.includes(space) && !declares) return write(store);
  const record = spaces.includes(space) ? await store.driver.get(space, key, Date.now()) : null;
  const scratch = await openStore({ url: 'memory:', sweepInterval: false });
  try {
    if (record !== null) {
      const { stamp: _stamp, ...stored } = record; // a stamp is never part of an image
      await scratch.driver.loadImage!(only({ ...stored, space }), { mode: 'merge' }, Date.now());
    }
    await write(scratch);
  } finally {
    await scratch.close();
  }
  return write(store);
}

async function* only(record: RawRecord): AsyncIterable<RawRecord> {
  yield record;
}
