import type { WriteOp } from '../src/drivers/driver.js';

/** A driver-level put of `value` as JSON, for tests that write below the public API. */
export const put = (space: string, key: string, value: unknown, expiresAt: number | null = null): WriteOp => ({
  type: 'put',
  space,
  key,
  value: JSON.stringify(value),
  expiresAt,
});
