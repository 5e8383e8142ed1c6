import { progressCallback } from '../progress-callback.js';
import { asRead } from '../drivers/record-stamp.js';
import type { StoredRecord } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import type { EncryptionLayer } from '../layers/encryption.js';
import { readPastDamage } from './pages.js';
import { CRYPTO_SPACE, retireKeys } from './state.js';

export interface RotateProgress {
  /** Records looked at so far, of `total` present when the run started. */
  checked: number;
  total: number;
  rewritten: number;
  space: string;
}

export interface RotateOptions {
  /** Records per atomic batch. @default 200 */
  batchSize?: number;
  onProgress?: (progress: RotateProgress) => void;
  /**
   * Also encrypt values stored in plain text in an encrypted space (written before `encrypt`
   * was declared) and sign records without a MAC (written before integrity 'mac'). Off by
   * default: such a record could also be one planted by someone without the key, and this
   * would make it pass as genuine.
   */
  protectExisting?: boolean;
}

export interface RotationReport {
  checked: number;
  rewritten: number;
  /** Records that could not be opened (damaged, tampered, or unprotected without `protectExisting`): left as they are. */
  failed: Array<{ space: string; key: string; code: string; message: string }>;
  /** Key id -> records that still need it (encrypted or signed with it). */
  keysInUse: Record<string, number>;
  /** Key ids no longer used by any record: the store forgot them, they can leave the keyring. */
  retired: string[];
}

const UNPROTECTED = /is not encrypted|carries no MAC/;

/**
 * Re-encrypts, page by page in key order, every record whose ciphertexts or MAC were made
 * with a key other than the primary. Each page is one atomic batch of conditional writes
 * (expect = the version read), so a concurrent write is never overwritten, and a crash
 * leaves every record readable under the old or the new key; a rerun skips what is done.
 */
export async function rotateKeys(layer: EncryptionLayer, now: () => number, options: RotateOptions): Promise<RotationReport> {
  const batchSize = options.batchSize ?? 200;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new StrataError('BAD_INPUT', 'store.rotateKeys: batchSize must be an integer from 1 to 10000');
  }
  const onProgress = progressCallback<RotateProgress>(options.onProgress, 'store.rotateKeys');
  const inner = layer.inner;
  const codec = layer.codec;
  const primary = layer.sealer!.primary;
  const spaces = [...new Set([...(await inner.spaces()), ...layer.encryptedSpaces().keys()])]
    .filter((space) => space !== CRYPTO_SPACE && (codec.mac || layer.specOf(space) !== undefined))
    .sort();
  let total = 0;
  for (const space of spaces) total += await inner.count(space, {}, now());
  const report: RotationReport = { checked: 0, rewritten: 0, failed: [], keysInUse: {}, retired: [] };
  const inUse = new Map<string, number>();
  const use = (ids: Iterable<string>): void => {
    for (const id of ids) if (id !== '') inUse.set(id, (inUse.get(id) ?? 0) + 1);
  };

  for (const space of spaces) {
    const spec = layer.specOf(space);
    let after: string | undefined;
    for (;;) {
      const {
        records: page,
        read,
        last,
      } = await readPastDamage(
        inner,
        space,
        { limit: batchSize, ...(after === undefined ? {} : { after: { key: after } }) },
        now(),
        (key, error) => report.failed.push({ space, key, code: 'CORRUPT', message: error.message }),
      );
      const stale: StoredRecord[] = [];
      for (const record of page) {
        const ids = new Set<string>();
        codec.keysOf(space, record.key, record.value, spec, ids);
        if ([...ids].every((id) => id === primary)) use(ids);
        else stale.push(record);
      }
      const rewritten = await rewrite(layer, space, stale, now, options.protectExisting === true, report);
      report.rewritten += rewritten.count;
      use(rewritten.ids);
      report.checked += read;
      onProgress?.({ checked: report.checked, total, rewritten: report.rewritten, space });
      if (read < batchSize || last === undefined) break;
      after = last;
      // The sqlite driver resolves as microtasks: without a turn of the event loop between
      // batches, timers and signal listeners (the CLI's Ctrl-C) would wait for the whole run.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  report.keysInUse = Object.fromEntries([...inUse].sort(([a], [b]) => (a < b ? -1 : 1)));
  if (report.failed.length === 0) report.retired = await retireKeys(inner, new Set(inUse.keys()), primary, now());
  return report;
}

/** Writes `records` again under the primary key, as one batch, re-reading any that changed meanwhile. */
async function rewrite(
  layer: EncryptionLayer,
  space: string,
  records: readonly StoredRecord[],
  now: () => number,
  protectExisting: boolean,
  report: RotationReport,
): Promise<{ count: number; ids: string[] }> {
  const codec = layer.codec;
  const spec = layer.specOf(space);
  const primary = layer.sealer!.primary;
  let pending = [...records];
  let count = 0;
  const ids: string[] = [];
  for (let attempt = 0; pending.length > 0; attempt++) {
    const ops = [];
    const kept: StoredRecord[] = [];
    for (const record of pending) {
      let text: string;
      try {
        text = codec.decode(space, record.key, record.value, record.expiresAt, spec);
      } catch (error) {
        if (!StrataError.is(error)) throw error;
        const plain = protectExisting && UNPROTECTED.test(error.message) ? unprotectedText(layer, space, record) : null;
        if (plain === null) {
          report.failed.push({ space, key: record.key, code: error.code, message: error.message });
          continue;
        }
        text = plain;
      }
      ops.push({
        type: 'put' as const,
        space,
        key: record.key,
        value: codec.encode(space, record.key, text, record.expiresAt, spec),
        expiresAt: record.expiresAt,
        // The very write read: a record deleted and written anew meanwhile (version 1 again)
        // must not be overwritten with the old value.
        ...asRead(record),
      });
      kept.push(record);
    }
    if (ops.length === 0) break;
    try {
      await layer.inner.batch(ops, now(), { results: false });
      count += ops.length;
      for (let i = 0; i < ops.length; i++) ids.push(primary);
      break;
    } catch (error) {
      if (!StrataError.is(error, 'CONFLICT') || attempt > 20) throw error;
      // Someone wrote meanwhile: their write is under the primary key already, or re-read it.
      const fresh = await layer.inner.getMany(
        space,
        kept.map((r) => r.key),
        now(),
      );
      pending = [];
      fresh.forEach((record) => {
        if (record === null) return;
        const used = new Set<string>();
        codec.keysOf(space, record.key, record.value, spec, used);
        if ([...used].every((id) => id === primary)) ids.push(...used);
        else pending.push(record);
      });
    }
  }
  return { count, ids };
}

/**
 * The value of a record stored before its space was protected: without a MAC when the store
 * signs records, and in plain text where its space is encrypted. Null when it is neither
 * (then it is damaged or tampered, and stays reported).
 */
function unprotectedText(layer: EncryptionLayer, space: string, record: StoredRecord): string | null {
  const codec = layer.codec;
  const spec = layer.specOf(space);
  let text = record.value;
  if (codec.mac) {
    try {
      // Signed but in plain text: check the MAC first, then adopt the text it covers.
      text = codec.decode(space, record.key, record.value, record.expiresAt, undefined);
    } catch (error) {
      if (!StrataError.is(error) || !/carries no MAC/.test(error.message)) return null;
    }
  }
  if (spec === undefined) return text;
  try {
    return codec.decodeLenient(space, record.key, text, spec);
  } catch {
    return null;
  }
}
