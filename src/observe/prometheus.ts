import type * as PromClient from 'prom-client';
import { loadDependency } from '../lazy-load.js';
import type { DriverStats } from '../drivers/driver.js';
import { BUCKETS_MS, OP_KINDS, OTHER_SPACE, type MetricsState } from './metrics-state.js';

type Labels = Record<string, string | number>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}
/** The shape prom-client's Registry reads a metric through (`get()`), so its formatter writes the text. */
interface Collected {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  values: Sample[];
}

/**
 * A metric prom-client's Registry can hold. Its typings ask for one of its own classes, but
 * the Registry reads only `name`, `type` and `get()` (its documented custom-collector path);
 * our values come from plain counters, hence the one cast.
 */
const metric = (name: string, help: string, type: Collected['type'], values: () => Sample[]): PromClient.Metric =>
  ({
    name,
    help,
    type,
    aggregator: 'sum',
    get: (): Collected => ({ name, help, type, aggregator: 'sum', values: values() }),
  }) as unknown as PromClient.Metric;

/**
 * A Prometheus registry of its own (never prom-client's global one, so two stores in one
 * process never collide) whose metrics read `state` and the latest `driver.stats()` when
 * scraped. Without `state` (metrics not enabled) only the gauges are there.
 */
export class StoreRegistry {
  readonly registry: PromClient.Registry = new (loadDependency('prom-client') as typeof PromClient).Registry();
  #stats: DriverStats | undefined;
  readonly #state: MetricsState | undefined;
  /** Cap for the gauges too, when metrics are off (then no counters decide which spaces are labelled). */
  readonly #maxSpaces: number;

  constructor(state: MetricsState | undefined, maxSpaces: number) {
    this.#state = state;
    this.#maxSpaces = maxSpaces;
    if (state !== undefined) this.#counters(state);
    this.#gauges();
  }

  /** The exposition text, with the gauges from `stats`. */
  async text(stats: DriverStats): Promise<string> {
    this.#stats = stats;
    try {
      return await this.registry.metrics();
    } finally {
      this.#stats = undefined;
    }
  }

  #counters(state: MetricsState): void {
    const r = this.registry;
    r.registerMetric(
      metric('strata_operations_total', 'Driver operations by space and kind (failed ones included).', 'counter', () =>
        perOp(state, (space, op, c, i) => (c.counts[i]! > 0 ? [{ value: c.counts[i]!, labels: { space, op } }] : [])),
      ),
    );
    r.registerMetric(
      metric('strata_operation_duration_seconds', 'Driver operation latency by space and kind.', 'histogram', () =>
        perOp(state, (space, op, c, i) => {
          if (c.counts[i]! === 0) return [];
          const name = 'strata_operation_duration_seconds';
          const out: Sample[] = [];
          let cumulative = 0;
          for (let b = 0; b <= BUCKETS_MS.length; b++) {
            cumulative += c.buckets[i * (BUCKETS_MS.length + 1) + b]!;
            const le = b < BUCKETS_MS.length ? String(BUCKETS_MS[b]! / 1000) : '+Inf';
            out.push({ metricName: `${name}_bucket`, value: cumulative, labels: { space, op, le } });
          }
          out.push({ metricName: `${name}_sum`, value: c.sumsMs[i]! / 1000, labels: { space, op } });
          out.push({ metricName: `${name}_count`, value: c.counts[i]!, labels: { space, op } });
          return out;
        }),
      ),
    );
    r.registerMetric(
      metric('strata_errors_total', 'Failed driver operations by space, kind and StrataError code.', 'counter', () =>
        state.entries().flatMap(([space, c]) =>
          [...c.errors].map(([id, value]) => {
            const [op, code] = id.split('\u0000') as [string, string];
            return { value, labels: { space, op, code } };
          }),
        ),
      ),
    );
    r.registerMetric(
      metric('strata_writes_total', 'Records put and deleted by successful batches, by space.', 'counter', () =>
        state
          .entries()
          .flatMap(([space, c]) => [
            ...(c.puts > 0 ? [{ value: c.puts, labels: { space, type: 'put' } }] : []),
            ...(c.deletes > 0 ? [{ value: c.deletes, labels: { space, type: 'delete' } }] : []),
          ]),
      ),
    );
  }

  #gauges(): void {
    const perSpace = (pick: (s: DriverStats['spaces'][number]) => number | undefined): Sample[] =>
      this.#capped().flatMap(([space, value]) => {
        const v = value.reduce((n, s) => n + (pick(s) ?? 0), 0);
        return value.some((s) => pick(s) !== undefined) ? [{ value: v, labels: { space } }] : [];
      });
    const r = this.registry;
    r.registerMetric(
      metric('strata_records', 'Live records per space (from driver.stats() when scraped).', 'gauge', () =>
        perSpace((s) => s.records),
      ),
    );
    r.registerMetric(
      metric('strata_bytes', 'Bytes of keys and values per space (from driver.stats() when scraped).', 'gauge', () =>
        perSpace((s) => s.bytes),
      ),
    );
    r.registerMetric(
      metric('strata_expired_records', 'Expired records not yet swept, per space, where the driver knows.', 'gauge', () =>
        perSpace((s) => s.expired),
      ),
    );
    r.registerMetric(
      metric(
        'strata_storage_bytes',
        'Bytes the backend occupies (file size for sqlite, WAL included), where known.',
        'gauge',
        () => (this.#stats?.storageBytes === undefined ? [] : [{ value: this.#stats.storageBytes, labels: {} }]),
      ),
    );
  }

  /**
   * The spaces of the last stats, grouped by label: spaces the counters labelled keep their
   * label, the others get one by name order while there is room under the cap, and the rest
   * are summed under `_other`. Decided again at every scrape and never admitted to the
   * counters: a scrape before use must not hand the counters' slots to idle spaces.
   */
  #capped(): Array<[string, DriverStats['spaces']]> {
    const spaces = [...(this.#stats?.spaces ?? [])].sort((a, b) => (a.space < b.space ? -1 : a.space > b.space ? 1 : 0));
    const groups = new Map<string, DriverStats['spaces']>();
    let room = this.#state?.room() ?? this.#maxSpaces;
    for (const s of spaces) {
      let own = this.#state?.labelled(s.space) === true;
      if (!own && room > 0) {
        own = true;
        room--;
      }
      const label = own ? s.space : OTHER_SPACE;
      const group = groups.get(label);
      if (group === undefined) groups.set(label, [s]);
      else group.push(s);
    }
    return [...groups];
  }
}

function perOp(
  state: MetricsState,
  each: (space: string, op: string, counters: ReturnType<MetricsState['of']>, index: number) => Sample[],
): Sample[] {
  return state.entries().flatMap(([space, c]) => OP_KINDS.flatMap((op, i) => each(space, op, c, i)));
}
