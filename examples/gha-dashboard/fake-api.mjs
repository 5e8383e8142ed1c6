// A fake of the three GitHub Actions REST endpoints the collector calls, on 127.0.0.1 only:
//   GET /repos/{owner}/{repo}/actions/workflows
//   GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs?per_page=&page=
//   GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs?per_page=&page=
// Runs are listed newest first (created_at, then id), paged by offset like GitHub's. Every
// answered request is recorded in `calls`, so tests can count what a collection fetched;
// `holdAt` leaves one request unanswered (a collector to be killed while it waits).
import { createServer } from 'node:http';

const SECOND = 1000;

/** Deterministic PRNG (mulberry32), so two fakes from one seed serve the same data. */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
const JOB_NAMES = ['build', 'lint', 'test (node 20)', 'test (node 22)', 'deploy'];

/**
 * @param {object} options
 * @param {Record<string, Array<{ id: number, name: string, runs: number }>>} options.repos
 *   `'owner/repo'` -> its workflows and how many runs each starts with
 * @param {number} [options.seed]
 * @param {number} [options.start] epoch ms of the oldest run (default: 30 days ago)
 * @param {() => number} [options.clock] the server's clock, for the Date header and new runs
 */
export async function startFakeApi({ repos, seed = 1, start, clock: realClock = Date.now }) {
  // New runs are created "now" and a second apart; the server's clock then moves past them,
  // as time would have, so its Date header is never older than a run it lists.
  let ahead = 0;
  const clock = () => realClock() + ahead;
  const random = rng(seed);
  let nextRunId = 9_000_000;
  let nextJobId = 50_000_000;
  /** 'owner/repo' -> { workflows: [{ id, name, path }], runs: Map<workflowId, run[] (oldest first)>, jobs: Map<runId, job[]> } */
  const data = new Map();
  const base = Math.floor((start ?? clock() - 30 * 86_400 * SECOND) / SECOND) * SECOND;

  const makeRun = (repo, wf, createdAt) => {
    const id = nextRunId++;
    const duration = 30 + Math.floor(random() * 600);
    const conclusion = random() < 0.8 ? 'success' : 'failure';
    const run = {
      id,
      workflow_id: wf.id,
      name: wf.name,
      head_branch: random() < 0.7 ? 'main' : `feature-${Math.floor(random() * 20)}`,
      actor: { login: ['ana', 'bo', 'chen', 'dev-bot'][Math.floor(random() * 4)] },
      status: 'completed',
      conclusion,
      created_at: iso(createdAt),
      run_started_at: iso(createdAt),
      updated_at: iso(createdAt + duration * SECOND),
    };
    const jobs = [];
    const count = Math.floor(random() * 4); // some runs have no jobs at all
    let at = createdAt;
    for (let j = 0; j < count; j++) {
      const took = 10 + Math.floor(random() * 200);
      jobs.push({
        id: nextJobId++,
        run_id: id,
        name: JOB_NAMES[j % JOB_NAMES.length],
        status: 'completed',
        conclusion,
        started_at: iso(at),
        completed_at: iso(at + took * SECOND),
      });
      at += took * SECOND;
    }
    repo.jobs.set(id, jobs);
    return run;
  };

  for (const [name, workflows] of Object.entries(repos)) {
    const repo = { workflows: [], runs: new Map(), jobs: new Map() };
    data.set(name, repo);
    for (const wf of workflows) {
      repo.workflows.push({ id: wf.id, name: wf.name, path: `.github/workflows/${wf.name.toLowerCase()}.yml` });
      const runs = [];
      let at = base;
      for (let i = 0; i < wf.runs; i++) {
        // Whole seconds, as GitHub's timestamps are; one run in ten shares its second with the
        // one before (a tie on the cursor that can straddle two pages).
        if (i === 0 || random() >= 0.1) at += (1 + Math.floor(random() * 900)) * SECOND;
        runs.push(makeRun(repo, wf, at));
      }
      repo.runs.set(wf.id, runs);
    }
  }

  const calls = [];
  const held = [];
  let answered = 0;
  let onHold;
  const api = {
    url: '',
    /** Paths (with query) of the requests answered, in order. */
    calls,
    /** Leave the request that would be answered `holdAt`-th (1-based) unanswered; `undefined`: answer all. */
    holdAt: undefined,
    /** Resolves when a request is held (the path). */
    held: () => new Promise((resolve) => (onHold = resolve)),
    /** New runs of a workflow, created now (by the server's clock), a second apart, newest last. */
    addRuns(repoName, workflowId, count) {
      const repo = data.get(repoName);
      const runs = repo.runs.get(workflowId);
      const wf = repo.workflows.find((w) => w.id === workflowId);
      let at = Math.max(Math.floor(clock() / SECOND) * SECOND, Date.parse(runs.at(-1)?.created_at ?? 0) + SECOND);
      for (let i = 0; i < count; i++, at += SECOND) runs.push(makeRun(repo, wf, at));
      ahead = Math.max(ahead, at + SECOND - realClock());
    },
    runCount(repoName) {
      return [...data.get(repoName).runs.values()].reduce((n, runs) => n + runs.length, 0);
    },
    async close() {
      for (const res of held.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };

  const send = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json', date: new Date(clock()).toUTCString() });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (api.holdAt !== undefined && answered + 1 === api.holdAt) {
      api.holdAt = undefined;
      held.push(res);
      onHold?.(url.pathname + url.search);
      return;
    }
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30)));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
    const slice = (list) => list.slice((page - 1) * perPage, page * perPage);
    const m = url.pathname.match(/^\/repos\/([^/]+)\/([^/]+)\/actions\/(workflows|workflows\/(\d+)\/runs|runs\/(\d+)\/jobs)$/);
    const repo = m && data.get(`${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`);
    if (!repo) return send(res, 404, { message: 'Not Found' });
    answered++;
    calls.push(url.pathname + url.search);
    if (m[3] === 'workflows') return send(res, 200, { total_count: repo.workflows.length, workflows: repo.workflows });
    if (m[4] !== undefined) {
      const runs = repo.runs.get(Number(m[4]));
      if (!runs) return send(res, 404, { message: 'Not Found' });
      const newestFirst = [...runs].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id);
      return send(res, 200, { total_count: runs.length, workflow_runs: slice(newestFirst) });
    }
    const jobs = repo.jobs.get(Number(m[5]));
    if (!jobs) return send(res, 404, { message: 'Not Found' });
    return send(res, 200, { total_count: jobs.length, jobs: slice(jobs) });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${server.address().port}`;
  return api;
}
