import { StrataError } from '../errors.js';

/**
 * Refuses an options object with a property this call does not know (`{ tll: '1m' }`), so a
 * typo from plain JavaScript cannot silently fall back to a default. `undefined` and `{}`
 * pass; anything that is not a plain object is BAD_INPUT too.
 */
export function checkOptions(options: unknown, known: readonly string[], op: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new StrataError('BAD_INPUT', `${op}: options must be an object`, {
      op,
      hint:
        known.length === 0
          ? `${op} takes no options: leave them out`
          : `pass an object with some of: ${known.join(', ')}, or leave it out`,
    });
  }
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    throw new StrataError('BAD_INPUT', `${op}: unknown option "${name}"`, {
      op,
      hint: known.length === 0 ? `${op} takes no options` : `known options: ${known.join(', ')}`,
      details: { option: name },
    });
  }
}
