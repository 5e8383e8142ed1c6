import type { Driver, ScanQuery, StoredRecord } from '../drivers/driver.js';
import { StrataError } from '../errors.js';

/** One page of a space, and how far it went: `read` counts the damaged records stepped over too. */
export interface Page {
  records: StoredRecord[];
  read: number;
  /** The key to resume after; undefined when the page was empty. */
  last: string | undefined;
}

/**
 * One page of `space`. A record that fails the driver's own checksum makes the whole scan
 * CORRUPT, naming it: then the page is read one record at a time, so each damaged one is
 * handed to `damaged` and the walk goes on past it (the rotation and verify must still reach
 * every other record). A CORRUPT that names no record of `space` is thrown.
 */
export async function readPastDamage(
  driver: Driver,
  space: string,
  query: ScanQuery,
  now: number,
  damaged: (key: string, error: StrataError) => void,
): Promise<Page> {
  try {
    const records = await driver.scan(space, query, now);
    return { records, read: records.length, last: records.at(-1)?.key };
  } catch (error) {
    if (damagedKey(error, space) === undefined) throw error;
  }
  const records: StoredRecord[] = [];
  let after = query.after?.key;
  let read = 0;
  while (read < (query.limit ?? Infinity)) {
    let record: StoredRecord | undefined;
    try {
      [record] = await driver.scan(space, { limit: 1, ...(after === undefined ? {} : { after: { key: after } }) }, now);
    } catch (error) {
      const key = damagedKey(error, space);
      // Only a damaged record that is named (and not the one just stepped over) can be skipped.
      if (key === undefined || key === after) throw error;
      damaged(key, error as StrataError);
      read++;
      after = key;
      continue;
    }
    if (record === undefined) break;
    records.push(record);
    read++;
    after = record.key;
  }
  return { records, read, last: after };
}

/** The key of the damaged record of `space` that `error` names, if it is such a CORRUPT. */
function damagedKey(error: unknown, space: string): string | undefined {
  if (!StrataError.is(error, 'CORRUPT')) return undefined;
  const details = error.details as { space?: unknown; key?: unknown } | undefined;
  return details?.space === space && typeof details.key === 'string' ? details.key : undefined;
}
