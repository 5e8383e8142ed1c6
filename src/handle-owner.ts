// Which store handed out a collection handle. A handle carries only its name in public, so
// code given "a collection" next to a store (the sync kit) could not tell a handle of another
// store, or of a closed one, from its own, and would write under the name into the wrong
// store. Kept here, not on the handle, to add nothing to the public API.
import type { Store } from './store.js';

const owners = new WeakMap<object, Store>();

/** @internal Records that `store.collection()` made `handle`. */
export function recordOwner(handle: object, store: Store): void {
  owners.set(handle, store);
}

/** @internal The store whose `store.collection()` made `handle`; `undefined` for anything else. */
export function ownerOf(handle: object): Store | undefined {
  return owners.get(handle);
}
