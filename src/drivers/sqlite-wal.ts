import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Reads a SQLite write-ahead log before SQLite does, to tell a torn tail from damage.
 *
 * SQLite's recovery replays frames until the first one whose salts or cumulative checksum do
 * not match, and silently drops the rest. That is right after a crash, where only the frames
 * written last can be incomplete, and wrong when a byte in the middle is damaged: every commit
 * after it would vanish without an error, and the next checkpoint would overwrite the
 * evidence. Damage shows itself as a bad frame (or header) FOLLOWED by frames of the same
 * generation (the header's salts) that verify against their predecessor's stored checksum: a
 * torn write never leaves a good frame after a bad one. Frames with other salts after the
 * valid ones are stale leftovers of an earlier generation and are normal.
 *
 * The wal-index (`-shm`) is a second witness: after a crash it still records how many
 * frames (`mxFrame`) were committed. A WAL with the same salts but fewer valid committed
 * frames than that lost acknowledged commits (truncation, or damage in its last frames).
 *
 * Format: https://www.sqlite.org/fileformat2.html#walformat
 */

const WAL_HEADER = 32;
const FRAME_HEADER = 24;
const WAL_MAGIC = 0x377f0682;
const WAL_VERSION = 3007000;
const SHM_HEADER = 136;

export interface WalReport {
  /** Why the WAL is damaged, or `null` when SQLite may recover it as it is. */
  damage: string | null;
  /** Complete frames, valid frames and the valid frames up to the last commit. */
  frames: number;
  valid: number;
  committed: number;
}

type Sums = [number, number];

function checksum(buf: Buffer, start: number, end: number, seed: Sums, bigEndian: boolean): Sums {
  let s0 = seed[0];
  let s1 = seed[1];
  for (let i = start; i < end; i += 8) {
    const x0 = bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i);
    const x1 = bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

function readAll(path: string, limit = Infinity): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const size = Math.min(fstatSync(fd).size, limit);
    const buf = Buffer.alloc(size);
    let at = 0;
    while (at < size) {
      const n = readSync(fd, buf, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    return buf.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}

const validPageSize = (n: number): boolean => n >= 512 && n <= 65536 && (n & (n - 1)) === 0;

/** Checksum of frame `i` (its first 8 header bytes and its page), from `seed`. */
function frameSums(wal: Buffer, at: number, pageSize: number, seed: Sums, bigEndian: boolean): Sums {
  const first = checksum(wal, at, at + 8, seed, bigEndian);
  return checksum(wal, at + FRAME_HEADER, at + FRAME_HEADER + pageSize, first, bigEndian);
}

const stored = (wal: Buffer, at: number): Sums => [wal.readUInt32BE(at + 16), wal.readUInt32BE(at + 20)];
const same = (a: Sums, b: Sums): boolean => a[0] === b[0] && a[1] === b[1];

/** Analyses one snapshot of the WAL (and the -shm header read before it). */
export function analyseWal(wal: Buffer, shm: Buffer | null, dbPageSize: number | null): WalReport {
  const report: WalReport = { damage: null, frames: 0, valid: 0, committed: 0 };
  if (wal.length < WAL_HEADER) {
    return { ...report, damage: shmDamage(shm, null, 0) };
  }
  const magic = wal.readUInt32BE(0);
  const headerPageSize = wal.readUInt32BE(8);
  const headerOk =
    (magic & ~1) >>> 0 === WAL_MAGIC &&
    wal.readUInt32BE(4) === WAL_VERSION &&
    validPageSize(headerPageSize) &&
    same(checksum(wal, 0, 24, [0, 0], (magic & 1) === 1), stored(wal, 8));
  if (!headerOk) {
    // SQLite ignores a WAL with a bad header. That is only harmless when no real frame follows.
    const sizes = new Set([headerPageSize, dbPageSize ?? 0, 4096].filter(validPageSize));
    const seeds: Sums[] = [stored(wal, 8)];
    for (const bigEndian of [false, true]) {
      seeds.push(checksum(wal, 0, 24, [0, 0], bigEndian));
      for (const pageSize of sizes) {
        if (wal.length < WAL_HEADER + FRAME_HEADER + pageSize) continue;
        for (const seed of seeds) {
          if (same(frameSums(wal, WAL_HEADER, pageSize, seed, bigEndian), stored(wal, WAL_HEADER))) {
            return { ...report, damage: 'the WAL header is damaged while committed frames follow it' };
          }
        }
      }
    }
    return { ...report, damage: shmDamage(shm, null, 0) };
  }
  const bigEndian = (magic & 1) === 1;
  const pageSize = headerPageSize;
  const frameSize = FRAME_HEADER + pageSize;
  const frames = Math.floor((wal.length - WAL_HEADER) / frameSize);
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  const at = (i: number): number => WAL_HEADER + i * frameSize;
  const current = (i: number): boolean =>
    wal.readUInt32BE(at(i) + 8) === salt1 && wal.readUInt32BE(at(i) + 12) === salt2 && wal.readUInt32BE(at(i)) !== 0;
  let seed: Sums = stored(wal, 8); // the header checksum, at bytes 24-31
  let valid = 0;
  let committed = 0;
  while (valid < frames) {
    const o = at(valid);
    if (!current(valid) || !same(frameSums(wal, o, pageSize, seed, bigEndian), stored(wal, o))) break;
    seed = stored(wal, o);
    valid++;
    if (wal.readUInt32BE(o + 4) !== 0) committed = valid;
  }
  Object.assign(report, { frames, valid, committed });
  if (valid < frames) {
    // The first bad frame: damage if any later frame of this generation still chains.
    const bad = valid;
    const recomputed = frameSums(wal, at(bad), pageSize, seed, bigEndian);
    for (let j = bad + 1; j < frames; j++) {
      if (!current(j)) continue;
      const seeds: Sums[] = j === bad + 1 ? [stored(wal, at(bad)), recomputed] : [stored(wal, at(j - 1))];
      if (seeds.some((s) => same(frameSums(wal, at(j), pageSize, s, bigEndian), stored(wal, at(j))))) {
        return { ...report, damage: `WAL frame ${bad + 1} of ${frames} is damaged while later frames are intact` };
      }
    }
  }
  return { ...report, damage: shmDamage(shm, wal.subarray(16, 24), committed) };
}

/**
 * The -shm header: two identical copies of the wal-index header (native byte order, its own
 * checksum over the first 40 bytes), then the checkpoint info (`nBackfill` at 96).
 */
function shmDamage(shm: Buffer | null, salts: Buffer | null, committed: number): string | null {
  if (shm === null || shm.length < SHM_HEADER) return null;
  if (!shm.subarray(0, 48).equals(shm.subarray(48, 96))) return null;
  const le = shm.readUInt32LE(0) === WAL_VERSION;
  if (!le && shm.readUInt32BE(0) !== WAL_VERSION) return null;
  if (shm[12] !== 1) return null;
  const sums = checksum(shm, 0, 40, [0, 0], !le);
  const u32 = (o: number): number => (le ? shm.readUInt32LE(o) : shm.readUInt32BE(o));
  if (!same(sums, [u32(40), u32(44)])) return null;
  const mxFrame = u32(16);
  const backfilled = u32(96);
  if (salts === null) {
    // No readable WAL: only damage when the index still holds commits not yet copied to the file.
    return mxFrame > backfilled
      ? `the WAL is missing or unreadable while its index records ${mxFrame - backfilled} uncheckpointed frames`
      : null;
  }
  if (!shm.subarray(32, 40).equals(salts)) return null;
  if (mxFrame > committed) {
    return `the WAL holds ${committed} committed frames but its index (-shm) records ${mxFrame}: commits were lost`;
  }
  return null;
}

/**
 * Checks the WAL of `path` before SQLite opens it. Another process may be writing it at the
 * same time, so a verdict of damage is only returned when a second read finds the same bytes
 * (a live writer only appends or restarts the log, which changes them).
 */
export function checkWal(path: string, dbPageSize: number | null): WalReport {
  let last: WalReport | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const shm = readAll(`${path}-shm`, SHM_HEADER);
    const wal = readAll(`${path}-wal`);
    if (wal === null && shm === null) return { damage: null, frames: 0, valid: 0, committed: 0 };
    const report = analyseWal(wal ?? Buffer.alloc(0), shm, dbPageSize);
    if (report.damage === null) return report;
    const shmAgain = readAll(`${path}-shm`, SHM_HEADER);
    const walAgain = readAll(`${path}-wal`);
    const steady =
      (wal === null ? walAgain === null : walAgain !== null && wal.equals(walAgain)) &&
      (shm === null ? shmAgain === null : shmAgain !== null && shm.equals(shmAgain));
    if (steady) return report;
    last = report;
  }
  // Still changing after three reads: a live connection is writing, and it owns the log.
  return last === null ? { damage: null, frames: 0, valid: 0, committed: 0 } : { ...last, damage: null };
}
