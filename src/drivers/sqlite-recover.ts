import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { StrataError } from '../errors.js';

/**
 * `recover: 'wal'`: the user accepts losing the commits after a damaged WAL frame. The
 * store file, its -wal and -shm are first copied to `<file>.damaged-<UTC time>/`, so the
 * evidence survives the checkpoint that follows. The -shm is then removed: it indexes
 * frames of the damaged log, and SQLite rebuilds it from the WAL's valid prefix on open
 * (run recovery while no other process has the store open). Returns the copy's directory.
 */
export function recoverWal(path: string, damage: string, driver: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const aside = `${path}.damaged-${stamp}`;
  try {
    mkdirSync(aside, { recursive: false, mode: 0o700 });
    for (const suffix of ['', '-wal', '-shm']) {
      const file = `${path}${suffix}`;
      if (existsSync(file)) copyFileSync(file, join(aside, basename(file)));
    }
  } catch (error) {
    throw new StrataError(
      'UNAVAILABLE',
      `cannot copy the damaged SQLite store ${path} aside before recovery: ${(error as Error).message}`,
      {
        op: 'open',
        driver,
        cause: error,
        hint: 'free disk space or make the directory writable, then open it again with recover',
        details: { location: path, damage },
      },
    );
  }
  rmSync(`${path}-shm`, { force: true });
  process.emitWarning(`stratadb: recovered ${path} (${damage}); the files before recovery are in ${aside}`, 'StrataRecovery');
  return aside;
}
