/**
 * ISO 8601 dates and date-times as people write them, checked field by field: `Date.parse`
 * alone takes '2026-02-30' as 2 March and '1' or 'May 5' as some date.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export interface IsoTime {
  ms: number;
  year: number;
  /** Whether a time of day is given, and whether it carries its zone (Z or an offset). */
  hasTime: boolean;
  zoned: boolean;
}

export type IsoProblem = 'not an ISO 8601 date' | 'a day that does not exist' | 'a time that does not exist';

function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** What `text` names, or why it is not an ISO 8601 date whose every field exists (24:00:00 is the end of a day). */
export function readIsoTime(text: string): IsoTime | IsoProblem {
  const m = ISO.exec(text);
  if (m === null) return 'not an ISO 8601 date';
  const [, y, mo, d, h, mi, s, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return 'a day that does not exist';
  if (h !== undefined) {
    const hour = Number(h);
    const minute = Number(mi);
    const second = s === undefined ? 0 : Number(s);
    const endOfDay = hour === 24 && minute === 0 && second === 0;
    if (!endOfDay && (hour > 23 || minute > 59 || second > 59)) return 'a time that does not exist';
    if (zone !== undefined && zone !== 'Z') {
      const [oh, om] = [Number(zone.slice(1, 3)), Number(zone.slice(-2))];
      if (oh > 23 || om > 59) return 'a time that does not exist';
    }
  }
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) return 'not an ISO 8601 date';
  return { ms, year, hasTime: h !== undefined, zoned: zone !== undefined };
}
