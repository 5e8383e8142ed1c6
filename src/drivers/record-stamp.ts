/**
 * Stamps for records held in memory (the memory driver, the file driver's in-RAM image):
 * unique within the process, so two writes of one key never share one, even when a delete
 * and a new write bring the key back to the same version at the same clock time.
 */
let last = 0;

export function newStamp(): number {
  return ++last;
}

/**
 * The condition of a write that must find the record exactly as it was read (`null`: absent):
 * its version and, where the driver gives one, its stamp, so a delete and a new write that
 * brought the key back to the same version in between is a CONFLICT too.
 */
export function asRead(record: { version: number; stamp?: number } | null): { expect: number; stamp?: number } {
  if (record === null) return { expect: 0 };
  return record.stamp === undefined ? { expect: record.version } : { expect: record.version, stamp: record.stamp };
}
