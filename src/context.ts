import type { Driver, SpaceSpec } from './drivers/driver.js';
import { StrataError } from './errors.js';
import type { SpaceEncryption } from './crypto/spec.js';

/**
 * What a kv namespace or collection handle needs from its store. A transaction hands out
 * handles over its own buffering driver through the same interface.
 */
export interface HandleContext {
  readonly driver: Driver;
  now(): number;
  /** Declares the space once per store; later calls return the same settled promise. */
  ensure(space: string, spec: SpaceSpec): Promise<void> | undefined;
  /**
   * Bumped by each restore of the store in this process: the restore may have taken away what
   * `ensure` wrote (a space's remembered encryption or collection spec), so a handle that was
   * ready before it must call `ensure` again before its next use.
   */
  generation(): number;
  /** Throws CLOSED once the store is closed. */
  assertOpen(op: string): void;
  /** Forgets a dropped space: its remembered declaration and this process's definition. */
  forget(space: string): Promise<void>;
  /** True inside `store.transaction`: watch is refused there. */
  readonly inTransaction: boolean;
  /** How the store encrypts `space` (undefined: not at all), so errors never name what is encrypted. */
  encryptionOf?(space: string): SpaceEncryption | undefined;
}

/**
 * The checks `kv.watch` and `collection.watch` make before subscribing: the store is open, the
 * call is not inside a transaction (its handles see no commits), the listener is a function.
 * `handle` says which store call gives a handle that can watch (`store.kv(name)`).
 */
export function checkWatch(ctx: HandleContext, listener: unknown, op: string, handle: string): void {
  ctx.assertOpen(op);
  if (ctx.inTransaction) {
    throw new StrataError('UNSUPPORTED', `${op} is not available inside a transaction`, {
      op,
      hint: `call watch() on ${handle} outside the transaction`,
    });
  }
  if (typeof listener !== 'function') {
    throw new StrataError('BAD_INPUT', `${op}: listener must be a function`, {
      op,
      hint: `pass a function that takes each change, e.g. ${op}((change) => console.log(change.key))`,
    });
  }
}

/** Space names keep kv namespaces and collections apart inside one driver. */
export const kvSpace = (name: string): string => `kv.${name}`;
export const collectionSpace = (name: string): string => `c.${name}`;

export function spaceKind(space: string): { kind: 'kv' | 'collection'; name: string } | null {
  if (space.startsWith('kv.')) return { kind: 'kv', name: space.slice(3) };
  if (space.startsWith('c.')) return { kind: 'collection', name: space.slice(2) };
  return null;
}

/** Runs `fn` again while it fails with CONFLICT: the compare-and-swap loop of atomic updates. */
export async function retryOnConflict<T>(fn: () => Promise<T>, attempts = 200): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!StrataError.is(error, 'CONFLICT') || attempt >= attempts) throw error;
      // Jittered backoff spreads contending writers (other processes included) apart.
      if (attempt > 2) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 2)));
    }
  }
}
