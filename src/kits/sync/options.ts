// Option checks of the sync kit: the store's own unknown-option check, plus the few shapes
// the kit takes (the store, names, a batch size, functions).
import { StrataError, type KvNamespace, type Store } from '../../index.js';
import { withOp } from '../../errors.js';
import { MAX_KEY_BYTES } from '../../codec/keys.js';

export { checkKnown, checkStore, clockOption, functionOption, intOption } from '../kit-options.js';

/** Where stream states are kept unless a stream says otherwise (`namespace`). */
export const STREAMS_NAMESPACE = 'sync.streams';

/** A stream, namespace or item name: a non-empty, well-formed string of at most 512 characters. */
export function checkName(value: unknown, what: string, op: string): string {
  if (typeof value === 'string' && value.length > 0 && value.length <= 512 && value.isWellFormed()) return value;
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be a non-empty string of at most 512 characters`, {
    op,
    hint: `pass ${what} as well-formed text`,
  });
}

/**
 * A stream name: a name (above) that is also a usable kv key, since the stream's state is
 * kept under it. Keys are limited in UTF-8 bytes, so 512 characters of a 3-byte script pass
 * `checkName` yet no `state()`, `save()` or `reset()` of the stream could ever run.
 */
export function checkStreamName(value: unknown, op: string): string {
  const name = checkName(value, 'the stream name', op);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes <= MAX_KEY_BYTES) return name;
  throw new StrataError('BAD_INPUT', `${op}: the stream name is ${bytes} UTF-8 bytes, over the ${MAX_KEY_BYTES} of a kv key`, {
    op,
    hint: `use a shorter stream name (at most ${MAX_KEY_BYTES} UTF-8 bytes), e.g. an id rather than a title`,
  });
}

/**
 * Opens a kv handle of `store`, which checks the namespace's characters now rather than at
 * the first read or write. The store's refusal names `store.kv`, a call the kit's user never
 * wrote: `op` says which of theirs it was.
 */
export function openKv<V>(store: Store, namespace: string, op: string): KvNamespace<V> {
  try {
    return store.kv<V>(namespace);
  } catch (error) {
    if (error instanceof StrataError) (error as { op: string | undefined }).op = op;
    throw withOp(error, op);
  }
}
