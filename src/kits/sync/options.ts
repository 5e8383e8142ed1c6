// Option checks of the sync kit: the store's own unknown-option check, plus the few shapes
// the kit takes (names, a batch size, functions).
import { StrataError } from '../../index.js';

export { checkKnown, clockOption, functionOption, intOption } from '../kit-options.js';

/** A stream, namespace or item name: a non-empty, well-formed string of at most 512 characters. */
export function checkName(value: unknown, what: string, op: string): string {
  if (typeof value === 'string' && value.length > 0 && value.length <= 512 && value.isWellFormed()) return value;
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be a non-empty string of at most 512 characters`, {
    op,
    hint: `pass ${what} as well-formed text`,
  });
}
