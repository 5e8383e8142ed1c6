import type * as Pino from 'pino';
import { loadDependency } from '../lazy-load.js';
import { StrataError } from '../errors.js';
import type { StoreLogger } from '../observe/logger.js';

const LEVELS = ['error', 'warn', 'info', 'debug'] as const;

/** BAD_INPUT unless `level` is one of the levels `--log-level` takes. */
export function checkLogLevel(level: string): void {
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new StrataError('BAD_INPUT', `--log-level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(level)}`, {
      hint: 'pass --log-level warn (failures only) or --log-level debug (every operation)',
    });
  }
}

/** `--log-level <level>`: pino JSON lines on stderr (stdout stays the command's data). */
export function cliLogger(level: string): StoreLogger {
  checkLogLevel(level);
  const { pino } = loadDependency('pino') as typeof Pino;
  return pino({ name: 'strata', level }, pino.destination({ fd: 2, sync: true }));
}
