import { StrataError } from './errors.js';

/**
 * The `onProgress` option of a long operation: `undefined`, or the caller's function wrapped
 * so that an exception it throws comes out as BAD_INPUT naming the operation, with the thrown
 * value as `cause` (not as UNAVAILABLE "the backend reported an unexpected error"). Anything
 * else is BAD_INPUT at once.
 */
export function progressCallback<P>(fn: unknown, op: string): ((progress: P) => void) | undefined {
  if (fn === undefined) return undefined;
  if (typeof fn !== 'function') throw new StrataError('BAD_INPUT', `${op}: onProgress must be a function`, { op });
  return (progress: P) => {
    try {
      (fn as (p: P) => unknown)(progress);
    } catch (cause) {
      if (cause instanceof StrataError) throw cause;
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new StrataError('BAD_INPUT', `${op}: the onProgress function threw: ${message}`, {
        op,
        cause,
        hint: 'fix or remove the onProgress function (the operation stopped where it threw)',
      });
    }
  };
}
