/**
 * The counters behind `store.metrics()`: plain numbers per space and operation kind, updated
 * on the hot path with no allocation and no label hashing, and turned into Prometheus
 * metrics only when scraped (see prometheus.ts). prom-client's own Histogram hashes its
 * label set on every observe, which alone would cost more than the 5% budget of a SQLite get.
 */

/** The driver operations that are counted and timed. */
export const OP_KINDS = ['get', 'getMany', 'scan', 'count', 'batch', 'purgeExpired'] as const;
export type OpKind = (typeof OP_KINDS)[number];
export const OP_INDEX: Readonly<Record<OpKind, number>> = Object.fromEntries(OP_KINDS.map((op, i) => [op, i])) as Record<
  OpKind,
  number
>;

/**
 * Upper bounds of the latency buckets, in milliseconds (exposed in seconds, as Prometheus
 * expects). From 2 us: a SQLite point read takes a few microseconds.
 */
export const BUCKETS_MS: readonly number[] = [
  0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
];

/** The label of the spaces past the cardinality cap, and of store-wide operations. */
export const OTHER_SPACE = '_other';
export const STORE_SPACE = '_store';

/** One space's counters. `buckets[op * (BUCKETS + 1) + b]`: non-cumulative counts, the last one +Inf. */
export class SpaceCounters {
  readonly counts = new Float64Array(OP_KINDS.length);
  readonly sumsMs = new Float64Array(OP_KINDS.length);
  readonly buckets = new Float64Array(OP_KINDS.length * (BUCKETS_MS.length + 1));
  /** `op\u0000code` -> failures. */
  readonly errors = new Map<string, number>();
  puts = 0;
  deletes = 0;

  observe(op: number, ms: number): void {
    this.counts[op]!++;
    this.sumsMs[op]! += ms;
    let b = 0;
    while (b < BUCKETS_MS.length && ms > BUCKETS_MS[b]!) b++;
    this.buckets[op * (BUCKETS_MS.length + 1) + b]!++;
  }

  fail(op: OpKind, code: string): void {
    const id = `${op}\u0000${code}`;
    this.errors.set(id, (this.errors.get(id) ?? 0) + 1);
  }
}

/** Per-space counters with a bounded number of spaces: past `maxSpaces`, every other space shares `_other`. */
export class MetricsState {
  readonly #spaces = new Map<string, SpaceCounters>();
  readonly #other = new SpaceCounters();
  readonly maxSpaces: number;
  readonly startedAt: number;
  /** Bumped on every change, so a flush can tell whether there is anything new. */
  changes = 0;

  constructor(maxSpaces: number, startedAt: number) {
    this.maxSpaces = maxSpaces;
    this.startedAt = startedAt;
  }

  /** The counters `space` is counted in (its own while under the cap, else `_other`). */
  of(space: string): SpaceCounters {
    const known = this.#spaces.get(space);
    if (known !== undefined) return known;
    if (this.#full() && space !== STORE_SPACE) return this.#other;
    const created = new SpaceCounters();
    this.#spaces.set(space, created);
    return created;
  }

  /** Whether `maxSpaces` spaces have their own label (`_store` comes on top of the cap). */
  #full(): boolean {
    return this.room() === 0;
  }

  /** Whether the counters gave `space` a label of its own (never admits it). */
  labelled(space: string): boolean {
    return this.#spaces.has(space);
  }

  /** How many more spaces could get a label of their own under the cap. */
  room(): number {
    return Math.max(0, this.maxSpaces - (this.#spaces.size - (this.#spaces.has(STORE_SPACE) ? 1 : 0)));
  }

  /** Every labelled space with its counters, `_other` last when anything was counted in it. */
  entries(): Array<[string, SpaceCounters]> {
    const list = [...this.#spaces].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (this.#other.counts.some((n) => n > 0)) list.push([OTHER_SPACE, this.#other]);
    return list;
  }
}
