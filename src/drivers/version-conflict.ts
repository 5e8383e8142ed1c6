import { StrataError } from '../errors.js';
import type { WriteOp } from './driver.js';

type Conditional = Extract<WriteOp, { type: 'put' | 'delete' | 'check' }>;

/**
 * The CONFLICT of an op whose condition failed: the stored version is not the expected one,
 * or (`rewritten`) it is, but a check's stamp shows it belongs to another write since.
 */
export function versionConflict(driver: string, index: number, op: Conditional, actual: number, rewritten = false): StrataError {
  const message = rewritten
    ? `version conflict on "${op.key}": version ${actual} was written again since it was read (deleted and written anew, or restored)`
    : `version conflict on "${op.key}": expected ${op.expect}, found ${actual}`;
  return new StrataError('CONFLICT', message, {
    driver,
    hint: 'read the entry again and retry with its current version',
    details: { index, space: op.space, key: op.key, expected: op.expect, actual },
  });
}
