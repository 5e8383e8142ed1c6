import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { hostname, uptime } from 'node:os';
import { StrataError } from '../../errors.js';
import { writeSmallFileAtomic } from './atomic-write.js';
import { ioError } from './errors.js';
import { openSmallRecord, sealSmallRecord } from './small-record.js';

/**
 * Tokens of the locks this process holds (several stores, several instances), kept on
 * globalThis so that two copies of this module in one process (nested installs, src and
 * dist in tests) still recognise each other's locks as live.
 */
const held: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('stratadb.file.heldLocks')] ??=
  new Set<string>()) as Set<string>;

/** Owner records of this process, removed when it exits even if a store was never closed. */
const ownerFiles: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('stratadb.file.ownerFiles')] ??= (() => {
  const files = new Set<string>();
  process.once('exit', () => {
    for (const file of files) rmSync(file, { force: true });
  });
  return files;
})()) as Set<string>;

const EMPTY_GRACE_MS = 5_000; // without hard links, an owner writes its record right after creating the file
const BREAK_STALE_MS = 10_000;
export const OWNER_SUFFIX = '.owner';
export const LOCK_FILE = 'strata.lock';
/** What link() fails with where the file system has no hard links (FAT, some network shares). */
export const NO_LINKS: readonly string[] = ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK', 'EXDEV'];

interface Owner {
  pid: number;
  host: string;
  boot?: string;
  token: string;
  at: number;
}

const bootId: string | undefined = (() => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined; // not Linux
  }
})();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const codeOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

/** Whether a process with this pid runs on this machine. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return codeOf(error) === 'EPERM'; // exists, owned by another user
  }
}

/** Whether `raw` is a sound owner record (what `strata.lock` and `*.owner` files hold). */
export function ownerRecordValid(raw: string): boolean {
  return typeof parseOwner(raw) === 'object';
}

/**
 * An owner record: `'empty'` while its writer has created the file and not yet written it
 * (the fallback without hard links), `'damaged'` when it fails its CRC or misses a field.
 */
function parseOwner(raw: string): Owner | 'empty' | 'damaged' {
  if (raw === '') return 'empty';
  const owner = openSmallRecord(raw);
  return owner !== null && Number.isSafeInteger(owner.pid) && typeof owner.token === 'string' && typeof owner.host === 'string'
    ? (owner as unknown as Owner)
    : 'damaged';
}

/** True when the owner's process certainly no longer runs: it is gone, or it ran before the last boot. */
function processGone(owner: Owner): boolean {
  if (owner.host !== hostname()) return false; // cannot see its processes: wait, then LOCKED
  // Pids are reused after a reboot: a lock from an earlier boot is stale whoever has its pid now.
  if (bootId !== undefined ? owner.boot !== undefined && owner.boot !== bootId : owner.at < Date.now() - uptime() * 1000 - 60_000)
    return true;
  return owner.pid !== process.pid && !pidAlive(owner.pid);
}

/** True when the lock with this content is certainly not held any more. */
function stale(raw: string, mtimeMs: number): boolean {
  const owner = parseOwner(raw);
  if (owner === 'empty') return Date.now() - mtimeMs > EMPTY_GRACE_MS;
  // Whose it is cannot be known: a live holder's record with one bit flipped must not read as
  // a dead process's. Waiting ends in LOCKED, whose hint says to delete the damaged lock.
  if (owner === 'damaged') return false;
  return owner.pid === process.pid && owner.host === hostname() ? !held.has(owner.token) : processGone(owner);
}

/**
 * The cross-process write lock. It is held only while a batch is appended or the store is
 * compacted, never for the life of a connection, so many processes can share a store.
 *
 * Each instance writes its owner record (pid, host, boot id, random token) once, to
 * `strata.lock.<token>.owner`, and takes the lock by hard-linking that file to `strata.lock`:
 * link() fails if the lock exists, and the lock never exists without its owner record, even
 * if the process is killed mid-acquire. Releasing unlinks `strata.lock`. Where the file
 * system has no hard links, it falls back to an exclusive create (`wx`) then a write.
 *
 * Hand-written rather than `proper-lockfile`: that library judges staleness by mtime, so it
 * must keep touching the file from a timer and can break a live lock on a stalled event
 * loop; here staleness is a fact (the owner process is gone), checked with
 * `process.kill(pid, 0)`, and the file is not touched while held.
 */
export class FileLock {
  readonly #path: string;
  readonly #timeoutMs: number;
  readonly #driver: string;
  readonly #token = randomBytes(12).toString('hex');
  readonly #ownerPath: string;
  #ownerWritten = false;
  /** The owner record as written, to check it is intact before each link. */
  #written = '';
  #links = true;
  #held = false;
  /** How many times the lock was taken, and how many stale locks were broken: for tests. */
  acquired = 0;
  brokeStale = 0;

  constructor(path: string, timeoutMs: number, driver: string) {
    this.#path = path;
    this.#ownerPath = `${path}.${this.#token}${OWNER_SUFFIX}`;
    this.#timeoutMs = timeoutMs;
    this.#driver = driver;
  }

  get path(): string {
    return this.#path;
  }

  /**
   * Takes the lock, waiting with backoff (capped at 10 ms, so a waiter is not starved by
   * holders that come back quickly) until `timeoutMs`, then LOCKED. `whileWaiting` runs
   * between attempts: the engine reads what the holders append meanwhile, so it keeps up
   * (and follows their compactions) instead of catching up on everything once it has the lock.
   */
  async acquire(whileWaiting?: () => unknown): Promise<void> {
    if (this.#held) throw new Error('FileLock.acquire: already held');
    const deadline = Date.now() + this.#timeoutMs;
    let delay = 1;
    for (;;) {
      if (this.#tryTake()) return;
      const seen = await this.#read();
      if (seen === null) continue; // released meanwhile
      if (stale(seen.raw, seen.mtimeMs)) {
        await this.#breakStale(seen.raw);
        // Another breaker may hold `.break` for a while: the deadline still applies.
        if (Date.now() < deadline) continue;
        if (this.#tryTake()) return;
        throw this.#lockedError(seen.raw, true);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw this.#lockedError(seen.raw);
      await sleep(Math.min(left, delay * (0.5 + Math.random())));
      delay = Math.min(delay * 2, 10);
      try {
        await whileWaiting?.();
      } catch {
        // whatever it met is met again, and reported, once the lock is held
      }
    }
  }

  /** Runs `task` holding the lock; failures to lock are StrataErrors (LOCKED, UNAVAILABLE). */
  async hold<T>(task: () => Promise<T>, whileWaiting?: () => unknown): Promise<T> {
    await this.acquire(whileWaiting).catch((error: unknown) => {
      throw ioError(this.#driver, error, 'locking', this.#path);
    });
    try {
      return await task();
    } finally {
      try {
        this.release();
      } catch {
        // already removed by hand: nothing to release
      }
    }
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      unlinkSync(this.#path);
    } finally {
      held.delete(this.#token);
    }
  }

  /** Removes this instance's owner record; call when the store closes. */
  dispose(): void {
    this.release();
    if (this.#ownerWritten) rmSync(this.#ownerPath, { force: true });
    this.#ownerWritten = false;
    ownerFiles.delete(this.#ownerPath);
  }

  #ownerRecord(): string {
    const owner: Owner = {
      pid: process.pid,
      host: hostname(),
      token: this.#token,
      at: Date.now(),
      ...(bootId ? { boot: bootId } : {}),
    };
    return sealSmallRecord(owner);
  }

  /**
   * Whether this instance's owner record still holds what it wrote: the record lives as long
   * as the connection, and linking a damaged one would show every other process a lock
   * nobody can judge (see `stale`).
   */
  #ownerIntact(): boolean {
    try {
      return readFileSync(this.#ownerPath, 'utf8') === this.#written;
    } catch {
      return false; // removed (as damaged, by removeDeadOwners) or unreadable: write it again
    }
  }

  /** Synchronous: a link() or unlink() takes microseconds, so the lock is held no longer than needed. */
  #tryTake(): boolean {
    held.add(this.#token);
    try {
      if (this.#links && !this.#tryLink()) return false;
      if (!this.#links && !this.#tryCreate()) return false;
    } catch (error) {
      held.delete(this.#token);
      throw error;
    }
    this.#held = true;
    this.acquired++;
    return true;
  }

  #tryLink(retry = true): boolean {
    try {
      if (!this.#ownerWritten || !this.#ownerIntact()) {
        // Renamed into place: a reader, or a kill at any moment, sees the old record or the
        // whole new one, never an empty or half-written file.
        const record = this.#ownerRecord();
        writeSmallFileAtomic(this.#ownerPath, record, false);
        this.#written = record;
        this.#ownerWritten = true;
        ownerFiles.add(this.#ownerPath);
      }
      linkSync(this.#ownerPath, this.#path);
      return true;
    } catch (error) {
      if (codeOf(error) === 'EEXIST') {
        held.delete(this.#token);
        return false;
      }
      if (codeOf(error) === 'ENOENT' && retry) {
        this.#ownerWritten = false; // someone removed our owner record: write it again
        return this.#tryLink(false);
      }
      if (!NO_LINKS.includes(codeOf(error) ?? '')) throw error;
      this.#links = false; // no hard links here (FAT, some network shares): create instead
      rmSync(this.#ownerPath, { force: true });
      this.#ownerWritten = false;
      ownerFiles.delete(this.#ownerPath);
      return this.#tryCreate();
    }
  }

  #tryCreate(): boolean {
    let fd: number;
    try {
      fd = openSync(this.#path, 'wx', 0o600);
    } catch (error) {
      if (codeOf(error) !== 'EEXIST') throw error;
      held.delete(this.#token);
      return false;
    }
    try {
      writeSync(fd, this.#ownerRecord());
    } catch (error) {
      rmSync(this.#path, { force: true });
      throw error;
    } finally {
      closeSync(fd);
    }
    return true;
  }

  async #read(): Promise<{ raw: string; mtimeMs: number } | null> {
    try {
      const [raw, info] = await Promise.all([readFile(this.#path, 'utf8'), stat(this.#path)]);
      return { raw, mtimeMs: info.mtimeMs };
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return null;
      throw error;
    }
  }

  /**
   * Removes a stale lock. Breakers serialize on a second exclusive file, and the lock is
   * removed only if it still holds exactly what was judged stale, so a fresh lock taken by
   * another process in the meantime is never removed. `.break` holds its breaker's owner
   * record: one left by a breaker that died mid-break is cleared at once when that process
   * is certainly gone, else (still being written, or damaged) after BREAK_STALE_MS.
   */
  async #breakStale(observed: string): Promise<void> {
    const breakPath = `${this.#path}.break`;
    let handle;
    try {
      handle = await open(breakPath, 'wx', 0o600);
    } catch (error) {
      if (codeOf(error) !== 'EEXIST') throw error;
      const [raw, info] = await Promise.all([readFile(breakPath, 'utf8').catch(() => null), stat(breakPath).catch(() => null)]);
      const breaker = raw === null ? 'empty' : parseOwner(raw);
      const gone = typeof breaker === 'object' && breaker.pid !== process.pid && processGone(breaker);
      if (info && (gone || Date.now() - info.mtimeMs > BREAK_STALE_MS)) await unlink(breakPath).catch(() => {});
      else await sleep(2);
      return;
    }
    try {
      await handle.writeFile(this.#ownerRecord());
      const current = await this.#read();
      if (current?.raw === observed) {
        await unlink(this.#path).catch(() => {});
        this.brokeStale++;
      }
    } finally {
      await handle.close();
      await unlink(breakPath).catch(() => {});
    }
  }

  /** Deletes owner records left by processes that died (call with the lock held). */
  async removeDeadOwners(): Promise<void> {
    const dir = dirname(this.#path);
    const prefix = `${basename(this.#path)}.`;
    for (const name of await readdir(dir)) {
      if (!name.startsWith(prefix) || !name.endsWith(OWNER_SUFFIX)) continue;
      const path = join(dir, name);
      const raw = await readFile(path, 'utf8').catch(() => null);
      if (raw === null) continue; // removed meanwhile
      const owner = parseOwner(raw);
      // A damaged record is not the lock (we hold it) and names nobody: its process, if alive,
      // writes a fresh one before it next links it. Records are renamed into place whole, so
      // an empty one is not being written: an earlier version's, or a power cut's, debris.
      const remove =
        owner === 'empty'
          ? Date.now() - ((await stat(path).catch(() => null))?.mtimeMs ?? Infinity) > EMPTY_GRACE_MS
          : owner === 'damaged' || processGone(owner);
      if (remove) await unlink(path).catch(() => {});
    }
  }

  #lockedError(raw: string, breaking = false): StrataError {
    if (breaking) {
      return new StrataError(
        'LOCKED',
        `the store's lock ${this.#path} is stale, and another process was still breaking it after ${this.#timeoutMs} ms`,
        {
          driver: this.#driver,
          hint: 'retry: the lock is free once that process finishes breaking it, or wait longer with ?lockTimeout= in the store URL (e.g. ?lockTimeout=30s)',
          details: { path: this.#path, breaking: true },
        },
      );
    }
    const parsed = parseOwner(raw);
    if (parsed === 'damaged') {
      return new StrataError(
        'LOCKED',
        `the store's lock file ${this.#path} is damaged, so whether its owner still runs cannot be told; gave up after ${this.#timeoutMs} ms`,
        {
          driver: this.#driver,
          hint: `if no process has this store open, delete ${this.#path} (it holds no data) and retry`,
          details: { path: this.#path, damaged: true },
        },
      );
    }
    const owner: Partial<Owner> = parsed === 'empty' ? {} : parsed;
    const who = owner.pid
      ? `process ${owner.pid}${owner.host && owner.host !== hostname() ? ` on ${owner.host}` : ''}`
      : 'another process';
    return new StrataError('LOCKED', `the store is locked by ${who}; gave up after ${this.#timeoutMs} ms`, {
      driver: this.#driver,
      hint: `wait for that process to finish, wait longer with ?lockTimeout= in the store URL (e.g. ?lockTimeout=30s), or delete ${this.#path} if its owner is certainly gone`,
      details: { path: this.#path, owner },
    });
  }
}
