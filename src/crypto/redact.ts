import { cutRefusal, refusalTrail } from '../codec/json.js';
import { StrataError } from '../errors.js';
import type { SpaceEncryption } from './spec.js';

/**
 * `error` without the property names of an encrypted value: a value refused before it is
 * encrypted (BAD_INPUT naming the bad part) names the path to it, and below an encrypted
 * field, or anywhere in a wholly encrypted value, those names are part of the secret.
 */
export function hideEncrypted(error: unknown, spec: SpaceEncryption | undefined): unknown {
  if (spec === undefined || !StrataError.is(error, 'BAD_INPUT')) return error;
  const trail = refusalTrail(error);
  if (trail === undefined) return error;
  if (spec.whole) return cutRefusal(error, 0);
  for (const field of spec.fields) {
    if (field.path.length <= trail.length && field.path.every((segment, i) => trail[i] === segment)) {
      return cutRefusal(error, field.path.length);
    }
  }
  return error;
}
