import type * as Pino from 'pino';
import { loadDependency } from '../lazy-load.js';
import { StrataError } from '../errors.js';

type LogMethod = (obj: object, msg?: string) => void;

/**
 * What `openStore({ logger })` takes: a pino logger, or anything with pino's method shape
 * (`info(obj, msg)` ...). `isLevelEnabled` (pino has it) lets the store skip timing work for
 * debug lines the logger would drop anyway.
 */
export interface StoreLogger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  isLevelEnabled?: (level: string) => boolean;
}

const METHODS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * The store's side of a logger: every call is guarded, so a logger that throws (a broken
 * transport, a full disk) can never make a store operation fail or change its outcome.
 */
export class SafeLog {
  readonly #target: StoreLogger;

  constructor(target: StoreLogger) {
    this.#target = target;
  }

  debugEnabled(): boolean {
    try {
      return typeof this.#target.isLevelEnabled === 'function' ? this.#target.isLevelEnabled('debug') !== false : true;
    } catch {
      return false;
    }
  }

  write(level: (typeof METHODS)[number], obj: object, msg: string): void {
    try {
      const result: unknown = this.#target[level](obj, msg);
      // An async logger's rejection would be an unhandled rejection, which ends a Node process.
      if (isThenable(result)) result.then(undefined, () => {});
    } catch {
      // A logger's failure is its own; the operation it reports on has its outcome already.
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  try {
    return (
      value !== null &&
      (typeof value === 'object' || typeof value === 'function') &&
      typeof (value as { then?: unknown }).then === 'function'
    );
  } catch {
    return false;
  }
}

/** `true`: pino at level info to stderr (name "strata"); a logger object; `false`/absent: no logging at all. */
export function parseLogger(value: unknown): SafeLog | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) {
    const { pino } = loadDependency('pino') as typeof Pino;
    return new SafeLog(pino({ name: 'strata', level: 'info' }, pino.destination({ fd: 2, sync: true })));
  }
  if (value !== null && typeof value === 'object' && hasMethods(value)) return new SafeLog(value as StoreLogger);
  throw new StrataError(
    'BAD_INPUT',
    'openStore: logger must be a pino logger (or an object with debug, info, warn and error methods), or true',
    {
      op: 'openStore',
      hint: "pass a logger made with the pino package, or logger: true for pino's default to stderr",
    },
  );
}

/** Whether `value` has the four level methods; a getter or proxy that throws is a no. */
function hasMethods(value: object): boolean {
  try {
    return METHODS.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  } catch {
    return false;
  }
}

export { redactUrl } from '../redact-url.js';
