import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname, uptime } from 'node:os';
import { StrataError } from '../../errors.js';

/**
 * The cross-process write lock: a file created with O_EXCL (`wx`) that holds its owner
 * (pid, host, boot, random token). It is held only while a batch is appended or the store
 * is compacted, never for the life of a connection, so many processes can share a store.
 *
 * Hand-written rather than `proper-lockfile`: that library judges staleness by mtime, so it
 * must keep touching the file from a timer and can break a live lock on a stalled event
 * loop; here staleness is a fact (the owner process is gone), checked with
 * `process.kill(pid, 0)`, and the file is not touched while held.
 */
const held = new Set<string>(); // tokens of locks this process holds (several stores, several instances)

const EMPTY_GRACE_MS = 5_000; // an owner writes its record right after creating the file
const BREAK_STALE_MS = 10_000;

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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/** True when the recorded owner certainly no longer holds the lock. */
function stale(raw: string, mtimeMs: number): boolean {
  let owner: Owner;
  try {
    owner = JSON.parse(raw) as Owner;
    if (!Number.isSafeInteger(owner.pid) || typeof owner.token !== 'string') throw new Error('malformed');
  } catch {
    return Date.now() - mtimeMs > EMPTY_GRACE_MS; // the owner died between create and write
  }
  if (owner.host !== hostname()) return false; // cannot see its processes: wait, then LOCKED
  // Pids are reused after a reboot: a lock from an earlier boot is stale whoever has its pid now.
  if (bootId !== undefined ? owner.boot !== undefined && owner.boot !== bootId : owner.at < Date.now() - uptime() * 1000 - 60_000) return true;
  if (owner.pid === process.pid) return !held.has(owner.token);
  return !alive(owner.pid);
}

export class FileLock {
  readonly #path: string;
  readonly #timeoutMs: number;
  readonly #driver: string;
  #token: string | null = null;
  /** How many times the lock was taken, and how many of those broke a stale lock: for tests. */
  acquired = 0;
  brokeStale = 0;

  constructor(path: string, timeoutMs: number, driver: string) {
    this.#path = path;
    this.#timeoutMs = timeoutMs;
    this.#driver = driver;
  }

  get path(): string {
    return this.#path;
  }

  async acquire(): Promise<void> {
    if (this.#token !== null) throw new Error('FileLock.acquire: already held');
    const deadline = Date.now() + this.#timeoutMs;
    let delay = 1;
    let lastOwner = '';
    for (;;) {
      if (await this.#tryCreate()) return;
      const seen = await this.#read();
      if (seen === null) continue; // released meanwhile
      lastOwner = seen.raw;
      if (stale(seen.raw, seen.mtimeMs)) {
        await this.#breakStale(seen.raw);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw this.#lockedError(lastOwner);
      await sleep(Math.min(left, delay * (0.5 + Math.random())));
      delay = Math.min(delay * 2, 50);
    }
  }

  async release(): Promise<void> {
    const token = this.#token;
    if (token === null) return;
    this.#token = null;
    try {
      await unlink(this.#path);
    } finally {
      held.delete(token);
    }
  }

  async #tryCreate(): Promise<boolean> {
    const token = randomBytes(12).toString('hex');
    held.add(token);
    let handle;
    try {
      handle = await open(this.#path, 'wx', 0o600);
    } catch (error) {
      held.delete(token);
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      const owner: Owner = { pid: process.pid, host: hostname(), token, at: Date.now(), ...(bootId ? { boot: bootId } : {}) };
      await handle.writeFile(JSON.stringify(owner));
      await handle.close();
    } catch (error) {
      await handle.close().catch(() => {});
      await unlink(this.#path).catch(() => {});
      held.delete(token);
      throw error;
    }
    this.#token = token;
    this.acquired++;
    return true;
  }

  async #read(): Promise<{ raw: string; mtimeMs: number } | null> {
    try {
      const [raw, info] = await Promise.all([readFile(this.#path, 'utf8'), stat(this.#path)]);
      return { raw, mtimeMs: info.mtimeMs };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /**
   * Removes a stale lock. Breakers serialize on a second exclusive file, and the lock is
   * removed only if it still holds exactly what was judged stale, so a fresh lock taken by
   * another process in the meantime is never removed. A breaker that dies mid-break leaves
   * `.break` behind; it is cleared after BREAK_STALE_MS.
   */
  async #breakStale(observed: string): Promise<void> {
    const breakPath = `${this.#path}.break`;
    let handle;
    try {
      handle = await open(breakPath, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const info = await stat(breakPath).catch(() => null);
      if (info && Date.now() - info.mtimeMs > BREAK_STALE_MS) await unlink(breakPath).catch(() => {});
      else await sleep(2);
      return;
    }
    try {
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

  #lockedError(raw: string): StrataError {
    let owner: Partial<Owner> = {};
    try {
      owner = JSON.parse(raw) as Owner;
    } catch {
      // an unreadable owner record is reported as unknown
    }
    const who = owner.pid ? `process ${owner.pid}${owner.host && owner.host !== hostname() ? ` on ${owner.host}` : ''}` : 'another process';
    return new StrataError('LOCKED', `the store is locked by ${who}; gave up after ${this.#timeoutMs} ms`, {
      driver: this.#driver,
      hint: `wait for that process to finish, raise lockTimeoutMs, or delete ${this.#path} if its owner is certainly gone`,
      details: { path: this.#path, owner },
    });
  }
}
