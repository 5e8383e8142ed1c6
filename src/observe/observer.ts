import type { Driver } from '../drivers/driver.js';
import { checkOptions } from '../codec/options.js';
import { MAX_TIMER_MS, parseDuration, type Duration } from '../codec/duration.js';
import { StrataError, withOp } from '../errors.js';
import { metricsLayer } from '../layers/metrics.js';
import { parseLogger, redactUrl, type SafeLog } from './logger.js';
import { loggedHandle } from './handle-log.js';
import { MetricsState } from './metrics-state.js';
import { StoreRegistry } from './prometheus.js';
import { writeSnapshot } from './persist.js';

/** `openStore({ metrics })` as an object. */
export interface MetricsOptions {
  /**
   * Spaces (kv namespaces, collections, internal `meta.*` spaces) with a label of their own;
   * the rest are counted together under `space="_other"`. @default 100
   */
  maxSpaces?: number;
  /**
   * How often this process writes its counters to the store (`meta.metrics`, one record per
   * process, also written on close) for `strata stats`; `false`: never. @default '1m'
   */
  flushInterval?: Duration | false;
}

/** The cap of labelled spaces when nothing else is said (the gauges of a store without metrics too). */
export const DEFAULT_MAX_SPACES = 100;

/** Logging and metrics of one store: made by `openStore` when `logger` or `metrics` is given. */
export class Observer {
  readonly log: SafeLog | undefined;
  readonly state: MetricsState | undefined;
  readonly #registry: StoreRegistry | undefined;
  readonly #flushMs: number | false;
  #timer: NodeJS.Timeout | undefined;

  private constructor(log: SafeLog | undefined, metrics: Required<MetricsOptions> | undefined, now: number) {
    this.log = log;
    this.#flushMs = metrics === undefined || metrics.flushInterval === false ? false : parseDuration(metrics.flushInterval);
    if (metrics !== undefined) {
      this.state = new MetricsState(metrics.maxSpaces, now);
      this.#registry = new StoreRegistry(this.state, metrics.maxSpaces);
    }
  }

  /** Checks `logger` and `metrics` (BAD_INPUT when they are not what is documented); undefined when neither is on. */
  static from(logger: unknown, metrics: unknown, now: number): Observer | undefined {
    const log = parseLogger(logger);
    const options = parseMetrics(metrics);
    if (log === undefined && options === undefined) return undefined;
    return new Observer(log, options, now);
  }

  /** The driver stack with the metrics layer on top (when metrics are on), its counters written every flushInterval. */
  wrap(driver: Driver, now: () => number): Driver {
    const state = this.state;
    if (state === undefined) return driver;
    let flushed = -1;
    const flush = async (): Promise<void> => {
      if (state.changes === flushed) return;
      const changes = state.changes;
      try {
        await writeSnapshot(driver, state, now());
        flushed = changes;
      } catch (error) {
        this.log?.write(
          'warn',
          { op: 'metrics.flush', code: StrataError.is(error) ? error.code : 'UNAVAILABLE' },
          'metrics.flush failed',
        );
      }
    };
    if (this.#flushMs !== false) {
      this.#timer = setInterval(() => void flush(), Math.min(this.#flushMs, MAX_TIMER_MS));
      this.#timer.unref();
    }
    return metricsLayer(driver, state, async () => {
      clearInterval(this.#timer);
      if (this.#flushMs !== false) await flush();
    });
  }

  /** A handle whose failed calls are logged (the handle itself when there is no logger). */
  handle<H extends object>(handle: H, kind: 'kv' | 'collection' | 'settings', space: string): H {
    return this.log === undefined ? handle : loggedHandle(handle, kind, space, this.log);
  }

  /**
   * The store as `openStore` returns it: with a logger, its own methods (`store.transaction`,
   * `store.verify`, `store.kv` with a bad name...) log their failures too, as `store.<method>`.
   */
  store<S extends object>(store: S): S {
    return this.log === undefined ? store : loggedHandle(store, 'store', '', this.log);
  }

  opened(driver: string, url: string | undefined): void {
    const fields: Record<string, unknown> = { event: 'open', driver, metrics: this.state !== undefined };
    if (url !== undefined) fields.url = redactUrl(url);
    this.log?.write('info', fields, 'store opened');
  }

  closed(driver: string): void {
    this.log?.write('info', { event: 'close', driver }, 'store closed');
  }

  /** Prometheus text: counters and histograms, plus the gauges read from `driver.stats(now)` (the store's clock). */
  async metrics(driver: Driver, now: number): Promise<string> {
    return (this.#registry ?? GAUGES_ONLY()).text(await driver.stats(now));
  }
}

/** The registry of a store without metrics: records, bytes and storage gauges only. */
const GAUGES_ONLY = (): StoreRegistry => new StoreRegistry(undefined, DEFAULT_MAX_SPACES);

/** Prometheus text of a store opened without `metrics`: the gauges alone, expiry judged at `now`. */
export async function gaugesText(driver: Driver, now: number): Promise<string> {
  return GAUGES_ONLY().text(await driver.stats(now));
}

function parseMetrics(value: unknown): Required<MetricsOptions> | undefined {
  if (value === undefined || value === false) return undefined;
  const defaults: Required<MetricsOptions> = { maxSpaces: DEFAULT_MAX_SPACES, flushInterval: '1m' };
  if (value === true) return defaults;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StrataError('BAD_INPUT', 'openStore: metrics must be true or an options object', {
      op: 'openStore',
      hint: "pass metrics: true, or metrics: { maxSpaces: 100, flushInterval: '1m' }",
    });
  }
  checkOptions(value, ['maxSpaces', 'flushInterval'], 'openStore: metrics');
  const options = value as MetricsOptions;
  // `=== undefined`, not `??`: null is a value given, and not a valid one.
  const maxSpaces = options.maxSpaces === undefined ? DEFAULT_MAX_SPACES : options.maxSpaces;
  if (typeof maxSpaces !== 'number' || !Number.isSafeInteger(maxSpaces) || maxSpaces < 1) {
    throw new StrataError('BAD_INPUT', `openStore: metrics.maxSpaces must be a positive whole number, got ${String(maxSpaces)}`, {
      op: 'openStore',
      hint: 'pass metrics: { maxSpaces: 100 } (or leave it out)',
    });
  }
  const flushInterval = options.flushInterval === undefined ? '1m' : options.flushInterval;
  if (flushInterval !== false) checkFlushInterval(flushInterval);
  return { maxSpaces, flushInterval };
}

/** BAD_INPUT (op `openStore`, parseDuration's hint) unless `value` is a duration a timer can wait. */
function checkFlushInterval(value: unknown): void {
  try {
    parseDuration(value, 'metrics.flushInterval', MAX_TIMER_MS);
  } catch (error) {
    throw withOp(error, 'openStore');
  }
}
