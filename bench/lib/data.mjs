// Deterministic test data: deployment records shaped like seed 000's DEPLOYMENT_RECORDS
// (id, repoName, branch, status, createdAt, ...), about 200 bytes of JSON each.

const REPOS = ['acme/web-dashboard', 'acme/api-gateway', 'acme/billing-svc', 'acme/mobile-app', 'acme/infra', 'acme/docs-site'];
const BRANCHES = ['main', 'develop', 'release/2026.11', 'feature/login-flow', 'fix/retry-timeouts', 'feature/dark-mode'];
const USERS = ['ci-bot', 'mira', 'deploy-cron', 'jonas', 'release-train'];
const EPOCH = Date.UTC(2026, 0, 1);

/** The status queried by the index workload: a small, size-independent set of records. */
export const PENDING = 'pending';
/** Records carrying PENDING at every size (what "open deployments" look like in the seed app). */
export const PENDING_COUNT = 100;

/** xorshift32: fast, seedable, good enough for picking keys. */
export function rng(seed = 0x9e3779b9) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Key of record `i` (no ':' or '.', which unstorage and conf treat as path separators). */
export function keyOf(i) {
  return `dep-${String(i).padStart(7, '0')}`;
}

/** All keys of a store of `size` records. */
export function keys(size) {
  const out = new Array(size);
  for (let i = 0; i < size; i++) out[i] = keyOf(i);
  return out;
}

function hex(n, i) {
  let s = '';
  let x = (i * 2654435761) >>> 0 || 1;
  while (s.length < n) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    s += (x >>> 0).toString(16).padStart(8, '0');
  }
  return s.slice(0, n);
}

/** Whether record `i` of a `size`-record store is PENDING (rewrites keep it so). */
export function isPending(i, size) {
  const step = Math.max(1, Math.floor(size / PENDING_COUNT));
  return i % step === 0 && i / step < PENDING_COUNT;
}

/**
 * Record `i` of a store of `size` records. PENDING_COUNT records spread over the key space
 * are pending; the rest are finished (success or failed). `rev` varies rewritten values.
 */
export function record(i, size, rev = 0) {
  const pending = isPending(i, size);
  return {
    id: keyOf(i),
    repoName: REPOS[i % REPOS.length],
    branch: BRANCHES[(i >>> 3) % BRANCHES.length],
    status: pending ? PENDING : i % 7 === 0 ? 'failed' : 'success',
    commit: hex(12, i + rev * 7919),
    createdAt: new Date(EPOCH + i * 60_000).toISOString(),
    durationMs: 30_000 + ((i * 7919 + rev) % 600_000),
    triggeredBy: USERS[(i + rev) % USERS.length],
  };
}

/** Values written by the set workloads: finished deployments only, so the PENDING set never grows. */
export function valuePool(count = 1024) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const r = record(i * 13 + 1, 1, i + 1);
    r.status = i % 5 === 0 ? 'failed' : 'success';
    out.push(r);
  }
  return out;
}

/** How many records of a `size`-record store are PENDING. */
export function pendingCount(size) {
  let n = 0;
  for (let i = 0; i < size; i++) if (record(i, size).status === PENDING) n++;
  return n;
}

/**
 * Yields [key, record] chunks of at most `chunk` entries covering records 0..size-1.
 * @returns {Generator<Array<[string, object]>>}
 */
export function* chunks(size, chunk = 10_000) {
  for (let start = 0; start < size; start += chunk) {
    const end = Math.min(size, start + chunk);
    const out = new Array(end - start);
    for (let i = start; i < end; i++) out[i - start] = [keyOf(i), record(i, size)];
    yield out;
  }
}

/**
 * Documents for the collection write workloads: record `i` rewritten (`rev` changes the
 * bytes, so no write is a no-op), its key and its PENDING status kept, so the query
 * workloads see the same ~100 pending documents whatever ran before them.
 */
export function rewritten(i, size, rev) {
  const doc = record(i, size, rev);
  if (doc.status !== PENDING) doc.status = (i + rev) % 5 === 0 ? 'failed' : 'success';
  return doc;
}

const docSets = new Map();
/** Two full rewrites of a `size`-record collection (rev 1 and 2), built once and shared by every target. */
export function fullRewrites(size) {
  if (!docSets.has(size)) {
    const make = (rev) => Array.from({ length: size }, (_, i) => rewritten(i, size, rev));
    docSets.set(size, [make(1), make(2)]);
  }
  return docSets.get(size);
}
