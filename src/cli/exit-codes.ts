import type { StrataErrorCode } from '../errors.js';

/**
 * Exit codes scripts can trust. One table, printed in `strata --help`; every StrataError code
 * not listed here (QUOTA_EXCEEDED, CLOSED, MIGRATION_FAILED) exits with FAILURE.
 */
export const EXIT = {
  OK: 0,
  /** Unexpected failure (a bug, or an error with no better code). */
  FAILURE: 1,
  /** Usage error: unknown command or option, malformed argument, BAD_INPUT, VALIDATION_FAILED. */
  USAGE: 2,
  NOT_FOUND: 3,
  CONFLICT: 4,
  /** The data cannot be trusted: CORRUPT, INTEGRITY, DECRYPT_FAILED, and `verify` finding issues. */
  CORRUPT: 5,
  /** Try again later: LOCKED, TIMEOUT, UNAVAILABLE. */
  UNAVAILABLE: 6,
  /** Stopped by Ctrl-C (SIGINT) after finishing the step in progress: 128 + 2, as shells report it. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const BY_CODE: Partial<Record<StrataErrorCode, ExitCode>> = {
  BAD_INPUT: EXIT.USAGE,
  VALIDATION_FAILED: EXIT.USAGE,
  UNSUPPORTED: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
  CONFLICT: EXIT.CONFLICT,
  CORRUPT: EXIT.CORRUPT,
  INTEGRITY: EXIT.CORRUPT,
  DECRYPT_FAILED: EXIT.CORRUPT,
  LOCKED: EXIT.UNAVAILABLE,
  TIMEOUT: EXIT.UNAVAILABLE,
  UNAVAILABLE: EXIT.UNAVAILABLE,
};

/** The exit code for a StrataError code (FAILURE for anything unlisted). */
export function exitCodeFor(code: StrataErrorCode | undefined): ExitCode {
  return (code !== undefined && BY_CODE[code]) || EXIT.FAILURE;
}

/** The table as shown at the end of `strata --help`. */
export const EXIT_CODES_HELP = `Exit codes:
    0  ok
    1  unexpected failure
    2  usage error, BAD_INPUT, VALIDATION_FAILED, UNSUPPORTED
    3  NOT_FOUND (e.g. \`get\` of a missing key; nothing is printed on stdout)
    4  CONFLICT (e.g. --if-version did not match)
    5  CORRUPT, INTEGRITY, DECRYPT_FAILED, or \`verify\` found issues
    6  LOCKED, TIMEOUT, UNAVAILABLE (retry later)
  130  interrupted (Ctrl-C); \`strata demo\` first says what it wrote and where`;
