import { performance } from 'node:perf_hooks';
import { StrataError, type StrataErrorCode } from '../errors.js';
import type { SafeLog } from './logger.js';

/** Codes that mean damage or a backend in trouble: logged at `error`; every other failure at `warn`. */
const ERROR_LEVEL = new Set<StrataErrorCode>([
  'CORRUPT',
  'INTEGRITY',
  'DECRYPT_FAILED',
  'UNAVAILABLE',
  'MIGRATION_FAILED',
  'TIMEOUT',
]);

/** Methods that are not operations on stored data (no log line for them). */
const NOT_OPS = new Set<PropertyKey>(['constructor', 'watch', 'toString', 'toJSON', 'then']);
/**
 * Store methods that hand out a handle or a job, and close (which has its info line): a
 * failure is logged, success is not worth a debug line.
 */
const FACTORIES = new Set<PropertyKey>(['kv', 'collection', 'settings', 'schedule', 'close']);

/**
 * What a log line may hold: the public operation, the space (`kv.<name>`, `c.<name>`), the
 * StrataError code, the driver and the duration. Never keys, values, messages, hints or
 * details: those can quote keys (a token, an email) and values, so they stay on the thrown
 * error, which the caller has.
 */
function failureFields(op: string, space: string, error: unknown, started: number): { fields: object; code: StrataErrorCode } {
  const code: StrataErrorCode = error instanceof StrataError ? error.code : 'UNAVAILABLE';
  const driver = error instanceof StrataError ? error.driver : undefined;
  const fields: Record<string, unknown> = {
    op,
    ...(space === '' ? {} : { space }),
    code,
    durationMs: round(performance.now() - started),
  };
  if (driver !== undefined) fields.driver = driver;
  return { fields, code };
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

/**
 * A kv namespace, collection or settings handle whose operations are logged: one `warn` (or
 * `error`, for damage) line per failed call with its code, and with the logger at debug one
 * `debug` line per call with its duration. The handle is otherwise untouched (methods run
 * on the real object, so `instanceof` and private fields work as before). `space` is `''`
 * for the store itself (its lines then have no `space`).
 */
export function loggedHandle<H extends object>(handle: H, kind: string, space: string, log: SafeLog): H {
  const wrapped = new Map<PropertyKey, unknown>();
  const failed = (op: string, error: unknown, started: number): void => {
    const { fields, code } = failureFields(op, space, error, started);
    log.write(ERROR_LEVEL.has(code) ? 'error' : 'warn', fields, `${op} failed: ${code}`);
  };
  const succeeded = (op: string, started: number): void => {
    const fields = space === '' ? { op } : { op, space };
    log.write('debug', { ...fields, durationMs: round(performance.now() - started) }, op);
  };
  const wrap =
    (fn: (...args: unknown[]) => unknown, op: string, quiet: boolean) =>
    (...args: unknown[]): unknown => {
      const debug = !quiet && log.debugEnabled();
      const started = performance.now();
      let result: unknown;
      try {
        result = fn.apply(handle, args);
      } catch (error) {
        failed(op, error, started);
        throw error;
      }
      if (result instanceof Promise) {
        return result.then(
          (value: unknown) => {
            if (debug) succeeded(op, started);
            return value;
          },
          (error: unknown) => {
            failed(op, error, started);
            throw error;
          },
        );
      }
      if (isAsyncIterator(result)) {
        // Its debug line waits for the iteration to end: the call itself did no work yet.
        return loggedIterator(result, op, started, { failed, succeeded: debug ? succeeded : undefined });
      }
      if (debug) succeeded(op, started);
      return result;
    };
  return new Proxy(handle, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      let fn = wrapped.get(prop);
      if (fn === undefined) {
        // Methods run on the handle itself: its private fields are not on the proxy.
        const method = value as (...args: unknown[]) => unknown;
        const quiet = kind === 'store' && FACTORIES.has(prop);
        fn = NOT_OPS.has(prop) || typeof prop === 'symbol' ? method.bind(target) : wrap(method, `${kind}.${prop}`, quiet);
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}

function isAsyncIterator(value: unknown): value is AsyncGenerator<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { next?: unknown }).next === 'function' &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

/** How an iteration reports its end: `succeeded` is absent when no debug line is wanted. */
interface IterationLog {
  failed: (op: string, error: unknown, started: number) => void;
  succeeded: ((op: string, started: number) => void) | undefined;
}

/**
 * `entries()` / `iterate()`: one line for the whole iteration, not one per page. A failed
 * page read is the failure of the iteration; otherwise the debug line is written when it
 * ends, by running out or by the caller stopping early (`break` returns the generator),
 * with the duration from the call.
 */
async function* loggedIterator(
  inner: AsyncGenerator<unknown>,
  op: string,
  started: number,
  log: IterationLog,
): AsyncGenerator<unknown> {
  let failed = false;
  try {
    yield* inner;
  } catch (error) {
    failed = true;
    log.failed(op, error, started);
    throw error;
  } finally {
    if (!failed) log.succeeded?.(op, started);
  }
}
