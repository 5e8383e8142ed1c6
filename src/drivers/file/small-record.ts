import { crcHexOfString } from './checksum.js';

/**
 * The small records naming a process (lock owner records, the compaction claim): JSON, a
 * space, then the CRC-32 of the JSON. A process judges from them whether another is still
 * alive, so a flipped bit (another pid, another boot id) must read as damage, never as a
 * different, dead owner.
 */
export function sealSmallRecord(fields: object): string {
  const json = JSON.stringify(fields);
  return `${json} ${crcHexOfString(json)}`;
}

/**
 * The fields of a sealed small record, or null when it is damaged (or not one): its CRC
 * fails, or it is not a JSON object. Keys named `__proto__` do not become prototypes.
 */
export function openSmallRecord(raw: string): Record<string, unknown> | null {
  const space = raw.lastIndexOf(' ');
  if (space < 0) return null;
  const json = raw.slice(0, space);
  if (crcHexOfString(json) !== raw.slice(space + 1)) return null;
  try {
    const value: unknown = JSON.parse(json, (key, v: unknown) => (key === '__proto__' ? undefined : v));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
