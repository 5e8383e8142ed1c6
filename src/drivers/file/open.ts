import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ChangeHub } from '../base.js';
import type { VerifyReport } from '../driver.js';
import { syncDir } from './atomic-write.js';
import type { EngineOptions } from './engine.js';
import { FileEngine, LOCK_FILE } from './engine.js';
import { ioError } from './errors.js';
import type { JournalMark } from './image.js';
import { createIfMissing, loadImage, removeTemps } from './image.js';
import { FileLock } from './lock.js';
import { verifyStore } from './verify.js';

/**
 * Opens (creating when new) the store in `o.dir`, under the lock: a torn journal tail is
 * then certainly a crash, and is cut off. `watchedSince` tells where the journal stood when
 * a listener subscribed before the store was open.
 */
export async function openEngine(
  o: EngineOptions,
  hub: ChangeHub,
  watchedSince: () => JournalMark | undefined,
): Promise<FileEngine> {
  try {
    // A new directory's own entry must be durable too, or a power cut could lose the store.
    const created = await mkdir(o.dir, { recursive: true, mode: 0o700 });
    for (let dir = o.dir; created !== undefined && dir !== dirname(created); dir = dirname(dir)) await syncDir(dirname(dir));
  } catch (error) {
    throw ioError(o.name, error, 'creating', o.dir);
  }
  const lock = new FileLock(join(o.dir, LOCK_FILE), o.lockTimeoutMs, o.name);
  try {
    return await lock.hold(async () => {
      await createIfMissing(o.dir, o.name);
      const engine = new FileEngine(o, hub, lock, await loadImage(o.dir, o.name), watchedSince());
      // Debris of crashed processes goes only once the store is known sound: a damaged
      // store is left exactly as found, for whoever restores it.
      await removeTemps(o.dir);
      await lock.removeDeadOwners();
      return engine;
    });
  } catch (error) {
    lock.dispose();
    throw error;
  }
}

/** Checks the files of a store too damaged to open, listing every problem found. */
export function verifyOffline(o: EngineOptions): Promise<VerifyReport> {
  const lock = new FileLock(join(o.dir, LOCK_FILE), o.lockTimeoutMs, o.name);
  return lock.hold(() => verifyStore(o.dir, o.name, null)).finally(() => lock.dispose());
}
