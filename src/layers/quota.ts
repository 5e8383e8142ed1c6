import type { BatchOptions, BatchResult, Driver, WriteOp } from '../drivers/driver.js';
import { ALL_USER_SPACES, isUserSpace } from '../drivers/quota-usage.js';
import { StrataError } from '../errors.js';

/** Limits on a kv namespace, a collection or the whole store. At least one is given. */
export interface Quota {
  /** Live records at most (expired records not yet swept do not count). */
  records?: number;
  /**
   * Bytes of live keys and values at most, measured as `stats()` measures `bytes`: values as
   * stored, so ciphertext and MACs count (more than `kv.size()`, which counts the JSON written).
   */
  bytes?: number;
}

/** A driver that adds `checkQuota` ops to the batches that put into a space with a quota. */
export interface QuotaDriver extends Driver {
  /** Limits writes to `space` (`'*'`: every kv namespace and collection together) from now on. */
  setQuota(space: string, quota: Quota): void;
  /** The quota declared in this process for `space` (or `'*'`), if any. */
  quotaOf(space: string): Quota | undefined;
  /** The driver (or stack) this layer wraps. */
  readonly inner: Driver;
}

/**
 * Checks a `quota` option: a plain object with `records` and/or `bytes`, each a positive
 * safe integer, and nothing else. Returns a copy holding only the limits given.
 */
export function parseQuota(value: unknown, what: string, op: string): Quota {
  const bad = (why: string): StrataError =>
    new StrataError('BAD_INPUT', `${what}: quota ${why}`, {
      op,
      hint: 'pass quota: { records: 1000 } and/or { bytes: 1048576 } (positive whole numbers)',
    });
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) {
    throw bad('must be an object');
  }
  const quota: Quota = {};
  for (const [name, limit] of Object.entries(value)) {
    if (name !== 'records' && name !== 'bytes') throw bad(`has an unknown option "${name}" (known: records, bytes)`);
    if (limit === undefined) continue;
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
      throw bad(`${name} must be a positive whole number, got ${String(limit)}`);
    }
    quota[name] = limit;
  }
  if (quota.records === undefined && quota.bytes === undefined) throw bad('needs records and/or bytes');
  return quota;
}

export const sameQuota = (a: Quota | undefined, b: Quota | undefined): boolean =>
  a?.records === b?.records && a?.bytes === b?.bytes;

/**
 * The quota layer. Quotas are held in this process: a batch that puts into a space with a
 * quota (any user space, with a store-wide one) gets one `checkQuota` op per limit, which
 * the driver evaluates inside the batch's atomic step, so racing processes that declare the
 * same quota can never take a space past it. Batches that only delete get none: removing is
 * always allowed. With no quota declared, batches pass through untouched.
 */
export function quotaLayer(inner: Driver): QuotaDriver {
  const quotas = new Map<string, Quota>();

  const checksFor = (ops: readonly WriteOp[]): WriteOp[] => {
    const checks: WriteOp[] = [];
    const added = new Set<string>();
    const storeWide = quotas.get(ALL_USER_SPACES);
    let last: string | null = null; // batches mostly put into one space
    for (const op of ops) {
      if (op.type !== 'put' || op.space === last) continue;
      last = op.space;
      for (const [space, quota] of [
        [op.space, quotas.get(op.space)],
        [ALL_USER_SPACES, storeWide !== undefined && isUserSpace(op.space) ? storeWide : undefined],
      ] as const) {
        if (quota === undefined || added.has(space)) continue;
        added.add(space);
        checks.push({ type: 'checkQuota', space, key: '', ...quota });
      }
    }
    return checks;
  };

  const layer: QuotaDriver = {
    name: inner.name,
    inner,
    capabilities: inner.capabilities,
    ensureSpace: inner.ensureSpace.bind(inner),
    spaces: inner.spaces.bind(inner),
    get: inner.get.bind(inner),
    getMany: inner.getMany.bind(inner),
    scan: inner.scan.bind(inner),
    count: inner.count.bind(inner),
    async batch(ops: readonly WriteOp[], now: number, options?: BatchOptions): Promise<BatchResult[]> {
      if (quotas.size === 0) return inner.batch(ops, now, options);
      const checks = checksFor(ops);
      if (checks.length === 0) return inner.batch(ops, now, options);
      const results = await inner.batch([...ops, ...checks], now, options);
      return results.length > ops.length ? results.slice(0, ops.length) : results;
    },
    purgeExpired: inner.purgeExpired.bind(inner),
    watch: inner.watch.bind(inner),
    stats: inner.stats.bind(inner),
    verify: inner.verify.bind(inner),
    close: inner.close.bind(inner),
    setQuota(space, quota) {
      quotas.set(space, { ...quota });
    },
    quotaOf(space) {
      const quota = quotas.get(space);
      return quota === undefined ? undefined : { ...quota };
    },
  };
  if (inner.getSync) layer.getSync = inner.getSync.bind(inner);
  if (inner.getValueSync) layer.getValueSync = inner.getValueSync.bind(inner);
  // Images are whole-store copies, below every quota: loading one restores a state, it does not grow one.
  if (inner.openImage) layer.openImage = inner.openImage.bind(inner);
  if (inner.loadImage) layer.loadImage = inner.loadImage.bind(inner);
  return layer;
}
