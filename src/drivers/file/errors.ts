import { StrataError } from '../../errors.js';

/** What to do about a damaged store file; `strata restore` needs no store at the path. */
const RECOVER =
  'to go back to a backup, move the store directory aside and run `strata restore <backup id>` (--dir <dir> for backups kept elsewhere): it restores into a new store at this path';

/** The store on disk is damaged: names the file and says how to recover. */
export function corruptError(
  driver: string,
  file: string,
  problem: string,
  cause?: unknown,
  where: { space?: string; key?: string } = {},
): StrataError {
  return new StrataError('CORRUPT', `${file}: ${problem}`, { driver, hint: RECOVER, cause, details: { file, ...where } });
}

/**
 * A problem found in a file, with the space and key it concerns when known, so load and
 * verify can name them. Thrown by the decoders; the callers turn it into CORRUPT.
 */
export class DamageError extends Error {
  readonly space: string | undefined;
  readonly key: string | undefined;
  constructor(message: string, where: { space?: string; key?: string } = {}) {
    super(message);
    this.space = where.space;
    this.key = where.key;
  }
}

/** A file written by a newer Strata. */
export function unsupportedFormat(driver: string, file: string, format: string): StrataError {
  return new StrataError('UNSUPPORTED', `${file} has format "${format}", which this version of Strata cannot read`, {
    driver,
    hint: 'upgrade stratadb to the version that wrote this store',
    details: { file, format },
  });
}

/** Maps a file-system failure to a portable code, keeping the original as `cause`. */
export function ioError(driver: string, error: unknown, action: string, path: string): StrataError {
  if (error instanceof StrataError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const message = `${action} ${path} failed: ${error instanceof Error ? error.message : String(error)}`;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StrataError('QUOTA_EXCEEDED', message, {
      driver,
      cause: error,
      hint: 'free disk space, then retry',
      details: { path },
    });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    // Retrying never helps (exit 6 tells scripts to): BAD_INPUT, the location is the caller's to fix.
    return new StrataError('BAD_INPUT', message, {
      driver,
      cause: error,
      hint: 'check that this process may read and write the store directory and its files',
      details: { path, code },
    });
  }
  return new StrataError('UNAVAILABLE', message, {
    driver,
    cause: error,
    hint: 'the file system reported an error; see `cause`',
    details: { path, code },
  });
}
