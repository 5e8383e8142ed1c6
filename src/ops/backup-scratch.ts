import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pidAlive } from '../drivers/file/lock.js';

/**
 * Scratch files of backups, loads and restores live next to the SQLite store (same disk):
 * `<store file>.strata-<backup|stage|restore>-<pid>-<random>.db`. A process killed in the
 * middle leaves its file behind; the next backup, restore or import of that store removes
 * the files whose process is gone.
 */
export function removeStaleScratch(location: string): void {
  if (location === ':memory:') return;
  const prefix = `${basename(location)}.strata-`;
  let names: string[];
  try {
    names = readdirSync(dirname(location));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(?:backup|stage|restore)-(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || pidAlive(pid)) continue;
    rmSync(join(dirname(location), name), { force: true });
  }
}
