// Seed 001's collector on Strata, against a fake paginated GitHub API on 127.0.0.1 (no other
// network): call counts of first, repeated and incremental collections, the skip-page rule
// after an incomplete first collection, jobs fetched once per run, SIGKILL mid-collection
// then rerun (nothing fetched twice, same data as an uninterrupted run), and bad input.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rng } from '../../test/rng.js';
import { collectRepository, readDashboard, storeFileName, type Dashboard } from './collector.mjs';
import { startFakeApi, type FakeApi } from './fake-api.mjs';

const child = fileURLToPath(new URL('./collect-child.mjs', import.meta.url));
const REPO = 'acme/web';
const WORKFLOWS = [
  { id: 11, name: 'CI', runs: 95 },
  { id: 12, name: 'Release', runs: 40 },
];
const PER_PAGE = 20;
// One start for every fake of a test run, so two fakes from one seed serve the same runs.
const START = Math.floor(Date.now() / 1000) * 1000 - 30 * 86_400_000;
const TOTAL_RUNS = 135;
// workflows list + CI 5 pages (the 5th short) + Release 2 full pages and an empty 3rd + jobs.
const FIRST_RUN_PAGES = 1 + 5 + 3;

let dir: string;
const apis: FakeApi[] = [];

async function fake(seed = 7): Promise<FakeApi> {
  const api = await startFakeApi({ repos: { [REPO]: WORKFLOWS }, seed, start: START });
  apis.push(api);
  return api;
}

const options = (api: FakeApi, sub = 'stores') => ({
  dir: join(dir, sub),
  owner: 'acme',
  repo: 'web',
  apiUrl: api.url,
  perPage: PER_PAGE,
});

/** Calls made since `from`, by kind. */
function since(api: FakeApi, from: number) {
  const calls = api.calls.slice(from);
  return {
    calls,
    workflows: calls.filter((c) => c.endsWith('/workflows?per_page=100')).length,
    pages: calls.filter((c) => c.includes('/runs?')),
    jobs: calls.filter((c) => c.includes('/jobs?')).length,
  };
}

/** What must be equal between two stores of the same source: everything but when it was collected. */
const content = (d: Dashboard) => ({
  runs: d.runs,
  jobs_by_run: d.jobs_by_run,
  ranges: Object.fromEntries(
    Object.entries(d.workflow_date_ranges).map(([id, r]) => [id, { ...r, covered: r.covered.length, top: undefined }]),
  ),
});

function runChild(
  api: FakeApi,
  sub: string,
): { done: Promise<{ code: number | null; signal: string | null; out: string }>; kill(): void } {
  const o = options(api, sub);
  const proc = spawn(process.execPath, [child, api.url, o.dir, o.owner, o.repo, String(PER_PAGE)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (c) => (out += c));
  proc.stderr.on('data', (c) => (out += c));
  return {
    done: new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal, out }))),
    kill: () => proc.kill('SIGKILL'),
  };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-gha-'));
});

afterEach(async () => {
  for (const api of apis.splice(0)) await api.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('gha-dashboard collector (seed 001 on Strata)', () => {
  it('a second collection makes only the calls for new data', async () => {
    const api = await fake();
    const first = await collectRepository(options(api));
    let c = since(api, 0);
    expect(c.workflows).toBe(1);
    expect(c.pages.length).toBe(FIRST_RUN_PAGES - 1);
    expect(c.jobs).toBe(TOTAL_RUNS);
    expect(first).toMatchObject({ calls: FIRST_RUN_PAGES + TOTAL_RUNS, runsSaved: TOTAL_RUNS, jobsFetched: TOTAL_RUNS });
    const d1 = await readDashboard(options(api));
    expect(Object.keys(d1.runs)).toHaveLength(TOTAL_RUNS);
    expect(Object.keys(d1.jobs_by_run)).toHaveLength(TOTAL_RUNS); // runs without jobs hold []
    expect(Object.values(d1.workflow_date_ranges).every((r) => r.complete)).toBe(true);
    expect(typeof d1.last_updated).toBe('string');

    // Nothing new: the workflow list and each workflow's first page, which is covered.
    let from = api.calls.length;
    const again = await collectRepository(options(api));
    c = since(api, from);
    expect(c.calls).toEqual([
      '/repos/acme/web/actions/workflows?per_page=100',
      '/repos/acme/web/actions/workflows/11/runs?per_page=20&page=1',
      '/repos/acme/web/actions/workflows/12/runs?per_page=20&page=1',
    ]);
    expect(again).toMatchObject({ runsSaved: 0, jobsFetched: 0, jobsSkipped: TOTAL_RUNS, pagesCovered: 2 });

    // New runs: 7 in CI (one page), 30 in Release (two pages); jobs of those 37 only.
    api.addRuns(REPO, 11, 7);
    api.addRuns(REPO, 12, 30);
    from = api.calls.length;
    const incremental = await collectRepository(options(api));
    c = since(api, from);
    expect(c.workflows).toBe(1);
    expect(c.pages).toEqual([
      '/repos/acme/web/actions/workflows/11/runs?per_page=20&page=1',
      '/repos/acme/web/actions/workflows/12/runs?per_page=20&page=1',
      '/repos/acme/web/actions/workflows/12/runs?per_page=20&page=2',
    ]);
    expect(c.jobs).toBe(37);
    expect(incremental).toMatchObject({ runsSaved: 37, jobsFetched: 37, jobsSkipped: TOTAL_RUNS });
    const d2 = await readDashboard(options(api));
    expect(Object.keys(d2.runs)).toHaveLength(TOTAL_RUNS + 37);
    expect(Object.keys(d2.jobs_by_run)).toHaveLength(TOTAL_RUNS + 37);
    expect(d2.workflow_date_ranges['12']).toMatchObject({ runs: 70, complete: true });
    // Never a call answered twice, over all three collections, but the lists and first pages.
    const repeated = api.calls.filter((p, i) => api.calls.indexOf(p) !== i);
    expect(repeated.every((p) => p.endsWith('workflows?per_page=100') || p.endsWith('&page=1') || p.endsWith('&page=2'))).toBe(
      true,
    );
    expect(repeated.filter((p) => p.includes('/jobs'))).toEqual([]);
  });

  it('the skip-page rule: after an incomplete first collection, held pages are skipped and nothing is missed', async () => {
    const api = await fake();
    // Only the newest 2 pages of each workflow ("initial collection was incomplete").
    await collectRepository({ ...options(api), maxPages: 2 });
    const partial = await readDashboard(options(api));
    expect(Object.keys(partial.runs)).toHaveLength(40 + 40);
    expect(partial.workflow_date_ranges['11']!.complete).toBe(false);

    api.addRuns(REPO, 11, 5);
    const from = api.calls.length;
    const report = await collectRepository(options(api));
    const c = since(api, from);
    // CI: page 1 = 5 new + 15 held; the store holds the next 25 of the covered range, so page
    // 2 is not fetched at all; page 3 holds the first runs it does not have. (100 runs: the
    // empty page 6 says page 5 was the last.)
    expect(c.pages.filter((p) => p.includes('/11/'))).toEqual([
      '/repos/acme/web/actions/workflows/11/runs?per_page=20&page=1',
      '/repos/acme/web/actions/workflows/11/runs?per_page=20&page=3',
      '/repos/acme/web/actions/workflows/11/runs?per_page=20&page=4',
      '/repos/acme/web/actions/workflows/11/runs?per_page=20&page=5',
      '/repos/acme/web/actions/workflows/11/runs?per_page=20&page=6',
    ]);
    // Release: page 1 is held whole (covered: not saved). Page 2 is fetched: its oldest run
    // sits just below the covered range (a run sharing its second could be on page 3), so the
    // store cannot prove it holds all of page 2. Page 3 is empty and closes the range.
    expect(c.pages.filter((p) => p.includes('/12/'))).toEqual([
      '/repos/acme/web/actions/workflows/12/runs?per_page=20&page=1',
      '/repos/acme/web/actions/workflows/12/runs?per_page=20&page=2',
      '/repos/acme/web/actions/workflows/12/runs?per_page=20&page=3',
    ]);
    expect(report.pagesCovered).toBe(1);
    expect(report.pagesJumped).toBe(1);
    expect(c.jobs).toBe(5 + 95 - 40);
    // The same data as one full collection of the same source.
    const fresh = await fake();
    fresh.addRuns(REPO, 11, 5);
    await collectRepository(options(fresh, 'reference'));
    const whole = await readDashboard(options(fresh, 'reference'));
    const after = await readDashboard(options(api));
    expect(Object.keys(after.runs).sort()).toEqual(Object.keys(whole.runs).sort());
    expect(Object.values(after.workflow_date_ranges).every((r) => r.complete)).toBe(true);
  });

  it("never skips a page it cannot prove it holds (where the seed's blind 'next two' lost runs)", async () => {
    const api = await fake();
    await collectRepository({ ...options(api), maxPages: 1 });
    const from = api.calls.length;
    await collectRepository(options(api));
    // Page 1 is covered; the seed then skipped pages 2 and 3 unseen, and never held runs 21-60.
    expect(since(api, from).pages.filter((p) => p.includes('/11/'))).toEqual(
      [1, 2, 3, 4, 5].map((n) => `/repos/acme/web/actions/workflows/11/runs?per_page=20&page=${n}`),
    );
    const d = await readDashboard(options(api));
    expect(Object.keys(d.runs)).toHaveLength(TOTAL_RUNS);
    expect(Object.values(d.workflow_date_ranges).every((r) => r.complete)).toBe(true);
  });

  it('SIGKILL mid-collection, then a rerun: nothing fetched twice, the same data as an uninterrupted run', async () => {
    const reference = await fake();
    await collectRepository(options(reference, 'reference'));
    const expected = content(await readDashboard(options(reference, 'reference')));
    const total = reference.calls.length;
    const random = rng(2024);
    // Killed while waiting for: the workflow list, a page of runs, a run's jobs (a random one).
    for (const holdAt of [1, 4, 10 + Math.floor(random() * (total - 10))]) {
      const api = await fake();
      const sub = `killed-${holdAt}`;
      api.holdAt = holdAt;
      const held = api.held();
      const first = runChild(api, sub);
      await held;
      first.kill();
      expect((await first.done).signal).toBe('SIGKILL');
      expect(api.calls).toHaveLength(holdAt - 1);
      const rerun = runChild(api, sub);
      const result = await rerun.done;
      expect(result.code, result.out).toBe(0);
      expect(JSON.parse(result.out.trim().split('\n').pop()!)).toMatchObject({ resumed: holdAt > 1 });
      // Every request answered once over both runs: the held one was never answered.
      expect(new Set(api.calls).size).toBe(api.calls.length);
      expect(api.calls.length).toBe(total);
      expect(content(await readDashboard(options(api, sub)))).toEqual(expected);
    }
  }, 40_000);

  it('a kill at any moment loses at most the one answer in flight', async () => {
    const reference = await fake();
    await collectRepository(options(reference, 'reference'));
    const expected = content(await readDashboard(options(reference, 'reference')));
    const api = await fake();
    const first = runChild(api, 'anytime');
    const deadline = Date.now() + 20_000;
    while (api.calls.length < 60 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    first.kill();
    await first.done;
    const rerun = await runChild(api, 'anytime').done;
    expect(rerun.code, rerun.out).toBe(0);
    const twice = api.calls.filter((p, i) => api.calls.indexOf(p) !== i);
    expect(twice.length, twice.join(' ')).toBeLessThanOrEqual(1);
    expect(content(await readDashboard(options(api, 'anytime')))).toEqual(expected);
  }, 30_000);

  it('keeps only the fields it knows from an answer (a __proto__ key included)', async () => {
    const api = await fake();
    const hostile = async (url: string, init: { headers: Record<string, string> }) => {
      const res = await fetch(url, init);
      const text = (await res.text()).replaceAll('"status":', '"__proto__":{"polluted":true},"extra":1,"status":');
      return new Response(text, { status: res.status, headers: res.headers });
    };
    await collectRepository({ ...options(api), fetch: hostile });
    const d = await readDashboard(options(api));
    const run = Object.values(d.runs)[0]!;
    expect(Object.keys(run).sort()).toEqual(
      [
        'actor',
        'branch',
        'conclusion',
        'created_at',
        'duration',
        'id',
        'status',
        'updated_at',
        'workflow_id',
        'workflow_name',
      ].sort(),
    );
    expect(Object.getPrototypeOf(run)).toBe(Object.prototype);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('names one store per repository, escaped, and refuses bad input before touching anything', async () => {
    expect(storeFileName('octo-org', 'web')).toBe('octo-org__web.db');
    expect(storeFileName('octo', 'my_repo.js')).toBe('octo__my%5Frepo.js.db');
    expect(storeFileName('a', 'b__c')).toBe('a__b%5F%5Fc.db');
    const api = await fake();
    const o = options(api);
    const code = async (p: () => Promise<unknown>) =>
      p().then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
    expect(await code(async () => storeFileName('a/b', 'c'))).toBe('BAD_INPUT');
    expect(await code(async () => storeFileName('a', '..'))).toBe('BAD_INPUT');
    expect(await code(() => collectRepository({ ...o, perpage: 5 } as never))).toBe('BAD_INPUT');
    expect(await code(() => collectRepository({ ...o, perPage: 101 }))).toBe('BAD_INPUT');
    expect(await code(() => collectRepository({ ...o, maxPages: 0 }))).toBe('BAD_INPUT');
    expect(await code(() => collectRepository({ ...o, owner: '' }))).toBe('BAD_INPUT');
    expect(await code(() => collectRepository({ ...o, apiUrl: 'ftp://x' }))).toBe('BAD_INPUT');
    expect(existsSync(o.dir)).toBe(false);
    expect(api.calls).toEqual([]);
    // An unknown repository: the API's 404 is UNAVAILABLE, with nothing collected.
    expect(await code(() => collectRepository({ ...o, repo: 'missing' }))).toBe('UNAVAILABLE');
  });
});
