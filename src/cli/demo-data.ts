/**
 * Deterministic sample data for `strata demo`: the deploy-tracker app of seed 000. Its
 * webhook appends one record per status change, so a deployment that goes
 * pending -> running -> success leaves several records with the same `id`: the duplicates
 * its nightly cron (`pruneDupes`) removes.
 */

export const STATUSES = ['pending', 'running', 'success', 'failed', 'cancelled'] as const;
export type Status = (typeof STATUSES)[number];

// A type alias (not an interface) so it is assignable to Record<string, unknown>.
export type Deployment = {
  /** The storage key: one per record, increasing in write order. */
  recordId: string;
  /** The deployment's id: equal on the records of one deployment (the duplicates). */
  id: string;
  repoName: string;
  branch: string;
  status: Status;
  createdAt: string;
};

export const REPOS = [
  'web-app',
  'api-server',
  'mobile-client',
  'billing-service',
  'auth-service',
  'data-pipeline',
  'docs-site',
  'infra',
];
const FEATURES = ['login-flow', 'dark-mode', 'cache-warmup', 'retry-webhooks', 'new-billing', 'i18n', 'perf-budget', 'audit-log'];
const DAY = 86_400_000;

/** mulberry32: a tiny seeded PRNG, so every run with the same seed stores the same data. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

function weighted<T>(rng: () => number, table: ReadonlyArray<readonly [T, number]>): T {
  let r = rng();
  for (const [item, weight] of table) {
    if ((r -= weight) < 0) return item;
  }
  return table[table.length - 1]![0];
}

function branch(rng: () => number): string {
  const r = rng();
  if (r < 0.5) return 'main';
  if (r < 0.7) return 'develop';
  if (r < 0.8) return `release/v${1 + Math.floor(rng() * 3)}.${Math.floor(rng() * 10)}`;
  return `feature/${pick(rng, FEATURES)}`;
}

const FIRST: ReadonlyArray<readonly [Status, number]> = [
  ['pending', 0.25],
  ['running', 0.15],
  ['success', 0.45],
  ['failed', 0.12],
  ['cancelled', 0.03],
];
const AFTER_PENDING: ReadonlyArray<readonly [Status, number]> = [
  ['running', 0.3],
  ['success', 0.55],
  ['failed', 0.15],
];
const AFTER_RUNNING: ReadonlyArray<readonly [Status, number]> = [
  ['success', 0.75],
  ['failed', 0.25],
];

export interface GeneratorOptions {
  total: number;
  seed: number;
  /** Share of records that are a later status of an earlier deployment. @default 0.15 */
  dupeRate?: number;
  /** createdAt of the last record, epoch ms; the records span the 30 days before it. */
  end: number;
}

/** Yields `total` records in write order; `dupe` marks a later status of an earlier deployment. */
export function* deployments(options: GeneratorOptions): Generator<{ doc: Deployment; dupe: boolean }> {
  const rng = random(options.seed);
  const rate = options.dupeRate ?? 0.15;
  const start = options.end - 30 * DAY;
  const step = (30 * DAY) / Math.max(options.total, 1);
  const inFlight: Deployment[] = []; // recent deployments whose status can still change
  let deploymentNo = 0;
  for (let i = 0; i < options.total; i++) {
    const recordId = `rec-${String(i + 1).padStart(7, '0')}`;
    const at = start + i * step;
    if (inFlight.length > 0 && rng() < rate) {
      const slot = Math.floor(rng() * inFlight.length);
      const earlier = inFlight[slot]!;
      const status = weighted(rng, earlier.status === 'pending' ? AFTER_PENDING : AFTER_RUNNING);
      const doc: Deployment = {
        ...earlier,
        recordId,
        status,
        createdAt: new Date(Math.max(at, Date.parse(earlier.createdAt) + 60_000)).toISOString(),
      };
      if (status === 'running') inFlight[slot] = doc;
      else inFlight.splice(slot, 1);
      yield { doc, dupe: true };
      continue;
    }
    deploymentNo++;
    const doc: Deployment = {
      recordId,
      id: `dep-${String(deploymentNo).padStart(6, '0')}`,
      repoName: pick(rng, REPOS),
      branch: branch(rng),
      status: weighted(rng, FIRST),
      createdAt: new Date(at + Math.floor(rng() * step)).toISOString(),
    };
    if (doc.status === 'pending' || doc.status === 'running') {
      inFlight.push(doc);
      if (inFlight.length > 400) inFlight.shift();
    }
    yield { doc, dupe: false };
  }
}
