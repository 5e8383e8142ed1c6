// The collector of seed 001 (GitHub Actions dashboard) on Strata: mirrors a repository's
// workflow runs and their jobs from the GitHub REST API into one store per repository, and
// makes only the calls for data it does not hold yet.
//
// Store `sqlite:<dir>/<owner>__<repo>.db` (names escaped), holding what the seed's JSON file
// held: collection `runs` (runs by id), kv `jobs_by_run` (run id -> its jobs), per-workflow
// date ranges (a `stratadb/kits/sync` stream per workflow: its covered ranges of created_at)
// and kv `dashboard` -> `last_updated`.
//
// Imports only what `stratadb` and `stratadb/kits/sync` export (from the built dist/ here; an
// app imports the package names).
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, StrataError } from '../../dist/index.js';
import { BEGINNING, ItemDetails, SyncStream } from '../../dist/kits/sync/index.js';

/** GitHub's largest page. */
export const MAX_PER_PAGE = 100;
/** Runs per upsertMany call, as the seed saved them. */
export const BATCH = 50;

const OP = 'collectRepository';
const OPTIONS = ['dir', 'owner', 'repo', 'apiUrl', 'token', 'fetch', 'perPage', 'maxPages', 'clock', 'onProgress'];

const given = (value, fallback) => (value === undefined ? fallback : value);
const bad = (op, message, hint) => new StrataError('BAD_INPUT', `${op}: ${message}`, { op, hint });

function checkKnown(options, known, op) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw bad(op, 'pass an options object');
  for (const name of Object.keys(options))
    if (!known.includes(name)) throw bad(op, `unknown option "${name}"`, `known options: ${known.join(', ')}`);
}

function checkRepoName(value, what, op) {
  if (typeof value === 'string' && /^[^/\s]{1,100}$/.test(value) && value !== '.' && value !== '..') return value;
  throw bad(
    op,
    `${what} must be a GitHub ${what} name (1 to 100 characters, no "/" or spaces)`,
    "e.g. owner: 'octo-org', repo: 'web'",
  );
}

/**
 * The store file of a repository: `<owner>__<repo>.db`, each part percent-escaped down to
 * `[A-Za-z0-9.-]` so `__` only ever separates the two and no name can reach outside `dir`.
 */
export function storeFileName(owner, repo) {
  const escape = (s) => encodeURIComponent(s).replace(/[!'()*_~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${escape(checkRepoName(owner, 'owner', 'storeFileName'))}__${escape(checkRepoName(repo, 'repo', 'storeFileName'))}.db`;
}

/** Opens a repository's store and its handles. */
export async function openRepositoryStore(dir, owner, repo) {
  if (typeof dir !== 'string' || dir.length === 0)
    throw bad('openRepositoryStore', 'dir must be a directory path', "e.g. dir: 'data/storage'");
  const file = storeFileName(owner, repo);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const store = await openStore(`sqlite:${join(dir, file)}`);
  const runs = store.collection('runs', { key: 'id', indexes: ['workflow_id', 'created_at'] });
  return {
    store,
    runs,
    jobs: new ItemDetails(store, 'jobs_by_run'),
    meta: store.kv('dashboard'),
    stream: (workflowId) =>
      new SyncStream(store, `runs:${workflowId}`, { collection: runs, cursor: (run) => run.created_at, batchSize: BATCH }),
  };
}

const API_HINT = 'check apiUrl points at the GitHub REST API (or a compatible one)';

const isoOf = (value, what) => {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isFinite(ms)) return new Date(ms).toISOString();
  throw new StrataError('UNAVAILABLE', `the API answered a ${what} that is not a date: ${JSON.stringify(value)?.slice(0, 40)}`, {
    op: OP,
    hint: API_HINT,
  });
};

const idOf = (value, what) => {
  if ((typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && /^\d{1,20}$/.test(value)))
    return String(value);
  throw new StrataError('UNAVAILABLE', `the API answered a ${what} id that is not a number`, { op: OP, hint: API_HINT });
};

const text = (value) => (typeof value === 'string' ? value : null);
const seconds = (from, to) => (from && to ? Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000) : null);

/**
 * A run as the seed stored it. Fields are picked one by one: nothing else from the answer
 * (a `__proto__` key included) reaches the store. Dates are normalised to ISO 8601 with
 * milliseconds, so they compare as strings in queries.
 */
function runOf(raw) {
  const createdAt = isoOf(raw?.created_at, 'run created_at');
  const updatedAt = raw.updated_at ? isoOf(raw.updated_at, 'run updated_at') : createdAt;
  const startedAt = raw.run_started_at ? isoOf(raw.run_started_at, 'run run_started_at') : createdAt;
  return {
    id: idOf(raw.id, 'run'),
    workflow_id: idOf(raw.workflow_id, 'workflow'),
    workflow_name: text(raw.name),
    branch: text(raw.head_branch),
    actor: text(raw.actor?.login),
    status: text(raw.status),
    conclusion: text(raw.conclusion),
    created_at: createdAt,
    updated_at: updatedAt,
    duration: seconds(startedAt, updatedAt),
  };
}

function jobOf(raw) {
  const started = raw?.started_at ? isoOf(raw.started_at, 'job started_at') : null;
  const completed = raw?.completed_at ? isoOf(raw.completed_at, 'job completed_at') : null;
  return {
    id: raw?.id === undefined || raw.id === null ? null : idOf(raw.id, 'job'),
    name: text(raw?.name),
    status: text(raw?.status),
    conclusion: text(raw?.conclusion),
    duration: seconds(started, completed),
    started_at: started,
    completed_at: completed,
  };
}

function listOf(body, field, path) {
  const list = body?.[field];
  if (Array.isArray(list)) return list;
  throw new StrataError('UNAVAILABLE', `the API answered ${path} without a "${field}" list`, { op: OP, hint: API_HINT });
}

/** A GET against the API that counts itself; non-2xx answers are UNAVAILABLE with the status. */
function client({ apiUrl, token, fetchFn, report }) {
  return async (path) => {
    const headers = { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' };
    if (token) headers.authorization = `Bearer ${token}`;
    report.calls++;
    let res;
    try {
      res = await fetchFn(`${apiUrl}${path}`, { headers });
    } catch (cause) {
      throw new StrataError('UNAVAILABLE', `GET ${path} failed: ${cause?.message ?? cause}`, {
        op: OP,
        cause,
        hint: 'check apiUrl and the network',
      });
    }
    if (res === null || typeof res !== 'object' || typeof res.json !== 'function')
      throw new StrataError(
        'UNAVAILABLE',
        `GET ${path}: fetch resolved to ${res === null ? 'null' : typeof res}, not a Response`,
        {
          op: OP,
          hint: 'pass a fetch that resolves to a Response, as globalThis.fetch does',
        },
      );
    if (!res.ok)
      throw new StrataError('UNAVAILABLE', `GET ${path} answered ${res.status}`, {
        op: OP,
        hint:
          res.status === 403 || res.status === 429
            ? 'rate limited: pass a token, or collect again later'
            : 'check owner, repo and token',
        details: { status: res.status },
      });
    return { body: await bodyOf(res, path), date: dateOf(res) };
  };
}

/**
 * The JSON body of a 2xx answer. A body that is not JSON (a proxy's or captive portal's HTML
 * page, a cut connection) is the API failing, like a non-2xx answer: UNAVAILABLE, with what
 * was committed kept, so the next collection resumes.
 */
async function bodyOf(res, path) {
  try {
    return await res.json();
  } catch (cause) {
    throw new StrataError('UNAVAILABLE', `GET ${path} answered ${res.status} with a body that is not JSON`, {
      op: OP,
      cause,
      hint: `the API answered something that is not JSON; ${API_HINT}, then collect again`,
      details: { status: res.status },
    });
  }
}

/** The answer's Date header in epoch ms, or NaN when it has none (or no readable headers). */
function dateOf(res) {
  try {
    return Date.parse(res.headers.get('date') ?? '');
  } catch {
    return Number.NaN;
  }
}

/**
 * The collection's clock, as ISO 8601 text. Read once before anything is created, so a clock
 * that throws or does not return epoch milliseconds is BAD_INPUT up front (as the kit's own
 * `clock` option is); every later reading is checked the same way.
 */
function isoClock(clock) {
  const hint = 'pass a clock that returns epoch milliseconds, as Date.now does, or leave it out';
  if (typeof clock !== 'function') throw bad(OP, 'clock must be a function returning epoch ms', hint);
  const now = () => {
    let ms;
    try {
      ms = clock();
    } catch (cause) {
      throw new StrataError('BAD_INPUT', `${OP}: the clock threw: ${cause?.message ?? cause}`, { op: OP, cause, hint });
    }
    // The range a Date can hold (toISOString throws a RangeError outside it).
    if (typeof ms === 'number' && Number.isFinite(ms) && Math.abs(ms) <= 8.64e15) return new Date(ms).toISOString();
    throw bad(OP, `the clock returned ${typeof ms === 'number' ? ms : typeof ms}, not epoch milliseconds`, hint);
  };
  now();
  return now;
}

/**
 * Collects one repository: every workflow's runs (newest first, page by page), then the
 * jobs of every held run that has none yet. Resumes an interrupted collection where its
 * last committed page left it. See README.md for the rules it fetches by.
 */
export async function collectRepository(options) {
  checkKnown(options, OPTIONS, OP);
  const { dir, token, maxPages = Infinity, onProgress } = options;
  const owner = checkRepoName(options.owner, 'owner', OP);
  const repo = checkRepoName(options.repo, 'repo', OP);
  // Only a left-out option takes its default: `null` is refused like any other bad value.
  const apiUrl = given(options.apiUrl, 'https://api.github.com');
  if (typeof apiUrl !== 'string' || !/^https?:\/\/[^/]+/.test(apiUrl))
    throw bad(OP, 'apiUrl must be an http(s) URL', "e.g. 'https://api.github.com'");
  const perPage = given(options.perPage, MAX_PER_PAGE);
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > MAX_PER_PAGE)
    throw bad(
      OP,
      `perPage must be a whole number from 1 to ${MAX_PER_PAGE}`,
      `pass perPage up to ${MAX_PER_PAGE}, or leave it out for ${MAX_PER_PAGE}`,
    );
  if (maxPages !== Infinity && (!Number.isInteger(maxPages) || maxPages < 1))
    throw bad(OP, 'maxPages must be a whole number >= 1', 'leave it out to collect every page');
  const fetchFn = given(options.fetch, globalThis.fetch);
  if (typeof fetchFn !== 'function')
    throw bad(OP, 'fetch must be a function', 'pass a fetch like globalThis.fetch, or leave it out');
  const now = isoClock(given(options.clock, Date.now));
  if (token !== undefined && typeof token !== 'string')
    throw bad(OP, 'token must be a string', 'pass the token as text, or leave it out');
  if (onProgress !== undefined && typeof onProgress !== 'function')
    throw bad(OP, 'onProgress must be a function', 'pass a function of one line of text (e.g. console.log), or leave it out');

  const report = {
    calls: 0,
    workflows: 0,
    resumed: false,
    pagesFetched: 0,
    pagesCovered: 0,
    pagesJumped: 0,
    runsSaved: 0,
    jobsFetched: 0,
    jobsSkipped: 0,
  };
  const progress = (line) => onProgress?.(line);
  const get = client({ apiUrl: apiUrl.replace(/\/+$/, ''), token, fetchFn, report });
  const h = await openRepositoryStore(dir, owner, repo);
  const base = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/actions`;
  try {
    // The workflow list of an interrupted collection is kept, so a rerun does not fetch it again.
    let plan = await h.meta.get('collection');
    report.resumed = plan !== null;
    if (plan === null) {
      const { body } = await get(`${base}/workflows?per_page=100`);
      const workflows = listOf(body, 'workflows', 'workflows').map((w) => ({ id: idOf(w?.id, 'workflow'), name: text(w.name) }));
      plan = { id: randomUUID(), workflows, startedAt: now() };
      await h.meta.set('collection', plan);
    }
    report.workflows = plan.workflows.length;
    for (const wf of plan.workflows) await walkWorkflow(h, wf, plan.id, { get, base, perPage, maxPages, report, progress });
    await collectJobs(h, { get, base, report, progress });
    const lastUpdated = now();
    await h.store.transaction(async (tx) => {
      const meta = tx.kv('dashboard');
      await meta.set('last_updated', lastUpdated);
      await meta.delete('collection');
    });
    return report;
  } finally {
    await h.store.close();
  }
}

/**
 * One workflow's runs, newest first. Each page is saved with its covered range and the next
 * checkpoint in one transaction. A page whose created_at range is already covered is not
 * saved (the seed's skip-page rule); after it, as many following pages as the store proves it
 * holds (runs counted in the covered range below the page) are not even fetched: the seed's
 * "and the next two", made exact. A covered range reaching the oldest run ends the walk.
 */
async function walkWorkflow(h, wf, collection, { get, base, perPage, maxPages, report, progress }) {
  const stream = h.stream(wf.id);
  const state = await stream.state();
  let covered = state.covered;
  // A walk that ended records the collection it ended in (in its last page's transaction),
  // so a rerun of an interrupted collection does not walk that workflow again.
  const finished = { finishedIn: collection };
  if (state.checkpoint?.finishedIn === collection) return;
  let cp = resumeAt(state.checkpoint) ?? { page: 1, edge: null, until: maxPages === Infinity ? null : maxPages, perPage };
  if (cp.page > 1 && cp.perPage !== perPage)
    progress(`${wf.name ?? wf.id}: resuming at page ${cp.page} of ${cp.perPage} runs, the interrupted walk's perPage`);
  // The walk's page size: a page number means nothing in another one.
  const per = cp.perPage;
  for (;;) {
    if (cp.until !== null && cp.page > cp.until) {
      await stream.save([], { checkpoint: finished });
      return;
    }
    const path = `${base}/workflows/${wf.id}/runs?per_page=${per}&page=${cp.page}`;
    const { body, date } = await get(path);
    report.pagesFetched++;
    const items = listOf(body, 'workflow_runs', path).map(runOf);
    // An empty or short page says "nothing older": the walk then covers down to BEGINNING.
    // One that contradicts the answer's own total_count (a glitch, a proxy cutting the list)
    // would claim runs never seen as held, and no later collection would fetch them: refuse
    // it, with what was committed kept (the next collection resumes at this page).
    if (items.length < per && typeof body.total_count === 'number' && body.total_count > (cp.page - 1) * per + items.length)
      throw new StrataError(
        'UNAVAILABLE',
        `GET ${path} answered ${items.length} runs, but a total of ${body.total_count} puts ${Math.min(per, body.total_count - (cp.page - 1) * per)} on this page`,
        { op: OP, hint: 'collect again later: the walk resumes at this page', details: { status: 200 } },
      );
    // The first page's cover reaches up to just before the answer's Date header: a run
    // created after the answer has a later created_at (whole seconds), so none is missed.
    // Without a usable Date, up to just below the newest run (a run created in its second
    // could still come).
    const firstTop = (newest) => (Number.isFinite(date) && date - 1 >= newest ? date - 1 : newest - 1);
    if (items.length === 0) {
      const upper = cp.edge ?? (Number.isFinite(date) ? date - 1 : null);
      await stream.save([], { cover: upper === null ? [] : [[BEGINNING, upper]], checkpoint: finished });
      return;
    }
    const [e, l] = stream.pageRange(items);
    const upper = cp.edge ?? firstTop(l);
    const last = items.length < per;
    const cover = last ? [BEGINNING, upper] : e + 1 <= upper ? [e + 1, upper] : null;
    let fresh = [];
    if (covered.covers(e, l)) report.pagesCovered++;
    else fresh = await newOrChanged(h, items);
    const after = covered.clone();
    if (cover) after.add(cover[0], cover[1]);
    const around = after.intervalAt(e);
    let next = null;
    if (!last && !(around && around[0] === BEGINNING)) {
      let jump = 0;
      if (around) {
        const held = await h.runs.count({
          workflow_id: wf.id,
          created_at: { $gte: new Date(around[0]).toISOString(), $lt: new Date(e).toISOString() },
        });
        jump = Math.floor(held / per);
        if (cp.until !== null) jump = Math.min(jump, cp.until - cp.page);
      }
      report.pagesJumped += jump;
      next = { page: cp.page + 1 + jump, edge: e, until: cp.until, perPage: per };
    }
    const saved = await stream.save(fresh, { cover: cover ? [cover] : [], checkpoint: next ?? finished });
    report.runsSaved += fresh.length;
    progress(
      `${wf.name ?? wf.id}: page ${cp.page}: ${items.length} runs, ${fresh.length} new or changed${next && next.page > cp.page + 1 ? `, next ${next.page - cp.page - 1} pages already held` : ''}`,
    );
    if (next === null) return;
    covered = saved.covered;
    cp = next;
  }
}

/**
 * Where an interrupted walk goes on, from its checkpoint: `page` is the next page to fetch,
 * `edge` the upper end of that page's cover (null before page 1), `until` the last page of
 * a walk bounded by maxPages, and `perPage` the page size all three are counted in. The walk
 * goes on in that size whatever perPage this collection was given: page 3 of 20 runs is not
 * page 3 of 100, and fetching the latter would skip runs 41-200 and mark them covered.
 * `null` (start at page 1) for no walk in progress, and for a checkpoint without a usable
 * perPage (one written before it was kept): its page cannot be placed, so rather than guess,
 * the walk starts over. That costs little: the ranges it committed stay, and the pages they
 * prove held are jumped over, not fetched.
 */
function resumeAt(checkpoint) {
  const cp = checkpoint;
  const whole = (n, min) => Number.isSafeInteger(n) && n >= min;
  if (cp === null || typeof cp !== 'object' || !whole(cp.page, 1)) return null;
  if (!whole(cp.perPage, 1) || cp.perPage > MAX_PER_PAGE) return null;
  if (!(cp.edge === null || Number.isSafeInteger(cp.edge)) || !(cp.until === null || whole(cp.until, 1))) return null;
  return { page: cp.page, edge: cp.edge, until: cp.until, perPage: cp.perPage };
}

/** The runs of a page the store does not hold yet, or holds in an older state. */
async function newOrChanged(h, items) {
  const held = new Map();
  for (const run of await h.runs.query({ id: { $in: items.map((r) => r.id) } })) held.set(run.id, run);
  return items.filter((r) => {
    const old = held.get(r.id);
    return old === undefined || old.updated_at !== r.updated_at || old.status !== r.status;
  });
}

/** Jobs for every held run without them; a run's jobs are saved as soon as they are fetched. */
async function collectJobs(h, { get, base, report, progress }) {
  const ids = [];
  for await (const run of h.runs.iterate({}, { sort: { created_at: 1 } })) ids.push(run.id);
  const missing = [];
  for (let i = 0; i < ids.length; i += 500) missing.push(...(await h.jobs.missing(ids.slice(i, i + 500))));
  report.jobsSkipped = ids.length - missing.length;
  for (const id of missing) {
    const jobs = [];
    for (let page = 1; ; page++) {
      const path = `${base}/runs/${id}/jobs?per_page=100&page=${page}`;
      const { body } = await get(path);
      const list = listOf(body, 'jobs', path);
      // A short list that contradicts its total_count would save the run's jobs incomplete,
      // and it would never be asked again: refuse it (the rerun fetches this run's jobs).
      if (list.length < 100 && typeof body.total_count === 'number' && body.total_count > (page - 1) * 100 + list.length)
        throw new StrataError('UNAVAILABLE', `GET ${path} answered ${list.length} jobs of a total of ${body.total_count}`, {
          op: OP,
          hint: 'collect again later: the jobs of this run are fetched again',
          details: { status: 200 },
        });
      jobs.push(...list.map(jobOf));
      if (list.length < 100) break;
    }
    await h.jobs.save(id, jobs);
    report.jobsFetched++;
  }
  if (missing.length > 0) progress(`jobs: fetched for ${missing.length} runs, ${report.jobsSkipped} runs already had theirs`);
}

/**
 * What the seed's JSON file held, read back from the store: runs by id, jobs by run, the
 * per-workflow date ranges and last_updated.
 */
export async function readDashboard({ dir, owner, repo }) {
  const h = await openRepositoryStore(dir, owner, repo);
  try {
    const runs = {};
    const byWorkflow = new Map();
    for await (const run of h.runs.iterate({}, { sort: { created_at: 1 } })) {
      runs[run.id] = run;
      const w = byWorkflow.get(run.workflow_id) ?? {
        workflow_name: run.workflow_name,
        earliest: run.created_at,
        latest: run.created_at,
        runs: 0,
      };
      w.latest = run.created_at;
      w.runs++;
      byWorkflow.set(run.workflow_id, w);
    }
    const jobs_by_run = {};
    for (const id of Object.keys(runs)) {
      const jobs = await h.jobs.get(id);
      if (jobs !== null) jobs_by_run[id] = jobs;
    }
    const workflow_date_ranges = {};
    for (const [id, w] of byWorkflow) {
      const state = await h.stream(id).state();
      const ranges = state.covered.ranges.map(([lo, hi]) => [
        lo === BEGINNING ? 'beginning' : new Date(lo).toISOString(),
        new Date(hi).toISOString(),
      ]);
      workflow_date_ranges[id] = {
        ...w,
        covered: ranges,
        complete: ranges.length === 1 && ranges[0][0] === 'beginning' && state.checkpoint?.page === undefined,
      };
    }
    return { runs, jobs_by_run, workflow_date_ranges, last_updated: await h.meta.get('last_updated') };
  } finally {
    await h.store.close();
  }
}
