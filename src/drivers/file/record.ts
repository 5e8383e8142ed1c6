import { StrataError } from '../../errors.js';
import type { StoredRecord } from '../driver.js';

// On-disk files are parsed with plain JSON.parse, not codec/json's parseJson: parseJson drops
// "__proto__" members, which here would silently lose a record stored under that key.
// JSON.parse makes such members own data properties, so nothing is polluted.

/**
 * The canonical text of a stored value: the driver embeds values in its files as JSON (so
 * people can read them) and reads them back with JSON.stringify, so it stores exactly that
 * text from the start. For values produced by codec/json (JSON.stringify output) this is the
 * same string. Text that is not JSON is refused: written raw it would corrupt the journal.
 */
export function canonicalValue(text: string, driver: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch (cause) {
    throw new StrataError('BAD_INPUT', 'a stored value must be JSON text', {
      driver,
      cause,
      hint: 'encode values with codec/json before handing them to a driver',
    });
  }
}

/** A record as a JSON object, its value embedded as JSON (not as a string). Key order is fixed. */
export function recordJson(record: StoredRecord): string {
  return (
    `{"value":${record.value},"version":${record.version},"createdAt":${record.createdAt},` +
    `"updatedAt":${record.updatedAt},"expiresAt":${record.expiresAt === null ? 'null' : record.expiresAt}}`
  );
}

/** The same record as a plain object, for pretty-printed snapshots. */
export function recordObject(record: StoredRecord): Record<string, unknown> {
  return {
    value: JSON.parse(record.value) as unknown,
    version: record.version,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    expiresAt: record.expiresAt,
  };
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks and converts one parsed record; throws a plain Error naming what is wrong. */
export function decodeRecord(key: string, raw: unknown): StoredRecord {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`record "${key}" is not an object`);
  const r = raw as Record<string, unknown>;
  if (!Object.prototype.hasOwnProperty.call(r, 'value')) throw new Error(`record "${key}" has no value`);
  if (!Number.isSafeInteger(r.version) || (r.version as number) < 1) throw new Error(`record "${key}" has a bad version`);
  if (!isTime(r.createdAt) || !isTime(r.updatedAt)) throw new Error(`record "${key}" has bad timestamps`);
  if (r.expiresAt !== null && !isTime(r.expiresAt)) throw new Error(`record "${key}" has a bad expiresAt`);
  return {
    key,
    value: JSON.stringify(r.value),
    version: r.version as number,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    expiresAt: r.expiresAt,
  };
}

/** Checks the numbers a batch will write, which must survive the JSON on disk. */
export function checkTimes(now: number, expiresAt: number | null, driver: string): void {
  if (!isTime(now) || (expiresAt !== null && !isTime(expiresAt))) {
    throw new StrataError('BAD_INPUT', 'timestamps must be finite numbers (epoch milliseconds)', { driver });
  }
}
