import { StrataError } from '../errors.js';

export const MAX_KEY_BYTES = 1024;

/** Keys are non-empty, well-formed strings of at most 1,024 UTF-8 bytes. */
export function checkKey(key: unknown, op: string): asserts key is string {
  if (typeof key !== 'string') {
    throw new StrataError('BAD_INPUT', `${op}: key must be a string, got ${key === null ? 'null' : typeof key}`, {
      op,
      hint: 'pass the key as a string (String(id) for a number)',
    });
  }
  if (key.length === 0) {
    throw new StrataError('BAD_INPUT', `${op}: key must not be empty`, { op, hint: 'pass a key of at least one character' });
  }
  // Fast path: a string of <= 341 UTF-16 units is at most 1,023 UTF-8 bytes.
  if (key.length > 341 && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new StrataError('BAD_INPUT', `${op}: key is longer than ${MAX_KEY_BYTES} UTF-8 bytes`, {
      op,
      hint: 'hash long identifiers or store them in the value',
    });
  }
  if (!key.isWellFormed()) {
    // Usually a string cut in the middle of an emoji or other astral character.
    throw new StrataError('BAD_INPUT', `${op}: key contains a lone UTF-16 surrogate`, {
      op,
      hint: 'keys are well-formed text: do not cut a string between the two halves of a surrogate pair (key.isWellFormed() tells)',
    });
  }
}

/**
 * A key prefix (`list`, `count`, `clear`, `keys`): a string, possibly empty, that is well-formed.
 * A lone surrogate would match differently per driver (JS compares UTF-16 units, so "\ud83d"
 * is a prefix of "😀"; SQLite stores text as UTF-8, where it is not), and no key can hold one.
 */
export function checkPrefix(prefix: unknown, op: string): asserts prefix is string | undefined {
  if (prefix === undefined) return;
  if (typeof prefix !== 'string') {
    throw new StrataError('BAD_INPUT', `${op}: prefix must be a string, got ${prefix === null ? 'null' : typeof prefix}`, { op });
  }
  if (!prefix.isWellFormed()) {
    throw new StrataError('BAD_INPUT', `${op}: prefix contains a lone UTF-16 surrogate`, {
      op,
      hint: 'keys are well-formed text, so no key starts with it; pass a well-formed prefix',
    });
  }
}

const SPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Namespace and collection names: letters, digits, `_ . -`, at most 128 characters. `op` is
 * the public call that was given the name (`store.kv`); callers that leave it out have their
 * own `withOp` around the check.
 */
export function checkName(name: unknown, kind: string, op?: string): asserts name is string {
  if (typeof name !== 'string' || !SPACE_NAME.test(name)) {
    throw new StrataError('BAD_INPUT', `${kind} name ${JSON.stringify(name)} is not valid`, {
      ...(op === undefined ? {} : { op }),
      hint: 'use 1-128 letters, digits, "_", "." or "-", starting with a letter or digit',
    });
  }
}
