// Seed 001's collector against a misbehaving API (fake GitHub on 127.0.0.1, tampered through
// the collector's `fetch` option): an HTTP 500 in the middle of a collection (UNAVAILABLE,
// what was committed stays, the rerun makes no answered call twice), overlapping pages (runs
// created during a walk push older ones onto the next page), and empty or short pages that
// contradict the answer's total_count (the collector must not claim a range it never saw).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectRepository, readDashboard, type Dashboard } from './collector.mjs';
import { startFakeApi, type FakeApi } from './fake-api.mjs';

const REPO = 'acme/web';
const WORKFLOWS = [
  { id: 11, name: 'CI', runs: 95 },
  { id: 12, name: 'Release', runs: 40 },
];
const TOTAL_RUNS = 135;
const PER_PAGE = 20;
const START = Math.floor(Date.now() / 1000) * 1000 - 30 * 86_400_000;

let dir: string;
const apis: FakeApi[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-gha-hostile-'));
});
afterEach(async () => {
  for (const api of apis.splice(0)) await api.close();
  rmSync(dir, { recursive: true, force: true });
});

async function fake(): Promise<FakeApi> {
  const api = await startFakeApi({ repos: { [REPO]: WORKFLOWS }, seed: 7, start: START });
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
const content = (d: Dashboard) => ({ runs: d.runs, jobs_by_run: d.jobs_by_run });

type Tamper = (path: string, n: number) => Promise<Response | undefined> | Response | undefined;
/** A fetch that lets `tamper` answer (or not) the n-th request before it reaches the fake. */
function tampered(tamper: Tamper) {
  let n = 0;
  return async (url: string, init: { headers: Record<string, string> }) => {
    n++;
    const path = new URL(url).pathname + new URL(url).search;
    const replaced = await tamper(path, n);
    return replaced ?? fetch(url, init);
  };
}
/** The fake's answer with its list field rewritten. */
async function rewrite(url: string, field: string, edit: (list: unknown[]) => unknown[]): Promise<Response> {
  const res = await fetch(url);
  const body = (await res.json()) as Record<string, unknown[]>;
  body[field] = edit(body[field]!);
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { 'content-type': 'application/json', date: res.headers.get('date')! },
  });
}

async function reference() {
  const api = await fake();
  await collectRepository(options(api, 'reference'));
  return { calls: api.calls.length, content: content(await readDashboard(options(api, 'reference'))) };
}

describe('gha-dashboard collector against a misbehaving API', () => {
  it('an HTTP 500 mid-way: UNAVAILABLE, the rerun resumes and no answered call is made twice', async () => {
    const ref = await reference();
    for (const failAt of [1, 3, 7, 12, 60]) {
      const api = await fake();
      const sub = `fail-${failAt}`;
      const fetch500 = tampered((_path, n) =>
        n === failAt ? new Response('{"message":"Server Error"}', { status: 500 }) : undefined,
      );
      const failed = await collectRepository({ ...options(api, sub), fetch: fetch500 }).then(
        () => null,
        (e: { code?: string; details?: { status?: number }; hint?: string }) => e,
      );
      expect(failed?.code, `fail at ${failAt}`).toBe('UNAVAILABLE');
      expect(failed?.details?.status).toBe(500);
      expect(api.calls).toHaveLength(failAt - 1);
      const report = await collectRepository(options(api, sub));
      expect(report.resumed).toBe(failAt > 1);
      expect(new Set(api.calls).size, api.calls.join('\n')).toBe(api.calls.length);
      expect(api.calls.length).toBe(ref.calls);
      expect(content(await readDashboard(options(api, sub)))).toEqual(ref.content);
    }
  }, 40_000);

  it('overlapping pages (runs created during the walk): every run held once, then nothing refetched', async () => {
    const api = await fake();
    let added = 0;
    const growing = tampered((path) => {
      // Before pages 2 and 4 of CI, 3 new runs appear: the page's first runs were on the
      // page before (offset paging), so pages overlap.
      if (/\/11\/runs\?per_page=20&page=(2|4)$/.test(path)) {
        api.addRuns(REPO, 11, 3);
        added += 3;
      }
      return undefined;
    });
    await collectRepository({ ...options(api), fetch: growing });
    expect(added).toBe(6);
    const d = await readDashboard(options(api));
    // The runs created during the walk are newer than its first page: the next collection
    // brings them (README: Limits); none of the old ones is missing.
    const from = api.calls.length;
    await collectRepository(options(api));
    const after = await readDashboard(options(api));
    expect(Object.keys(after.runs)).toHaveLength(TOTAL_RUNS + 6);
    expect(Object.keys(after.jobs_by_run)).toHaveLength(TOTAL_RUNS + 6);
    expect(Object.keys(d.runs).length).toBeGreaterThanOrEqual(TOTAL_RUNS);
    expect(Object.values(after.workflow_date_ranges).every((r) => r.complete)).toBe(true);
    // Jobs never fetched twice for one run.
    const jobCalls = api.calls.filter((c) => c.includes('/jobs?'));
    expect(new Set(jobCalls).size).toBe(jobCalls.length);
    // A third collection: the lists and first pages only.
    const third = api.calls.length;
    await collectRepository(options(api));
    expect(api.calls.slice(third)).toHaveLength(3);
    expect(from).toBeLessThan(third);
  });

  for (const [what, edit] of [
    ['an empty page', () => []],
    ['a short page', (list: unknown[]) => list.slice(0, 5)],
  ] as const) {
    it(`${what} mid-way that contradicts total_count claims no range it did not see`, async () => {
      const ref = await reference();
      const api = await fake();
      let tamperedOnce = false;
      const lying = tampered((path) => {
        if (!tamperedOnce && path.endsWith('/11/runs?per_page=20&page=3')) {
          tamperedOnce = true;
          return rewrite(`${api.url}${path}`, 'workflow_runs', edit);
        }
        return undefined;
      });
      const first = await collectRepository({ ...options(api), fetch: lying }).then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
      expect(tamperedOnce).toBe(true);
      // Either refused (UNAVAILABLE, to collect again) or carried on: never a claim that the
      // runs below page 2 are held.
      expect(['ok', 'UNAVAILABLE']).toContain(first);
      const mid = await readDashboard(options(api));
      expect(mid.workflow_date_ranges['11']?.complete ?? false).toBe(
        Object.values(mid.runs).filter((r) => r.workflow_id === '11').length === 95,
      );
      await collectRepository(options(api));
      await collectRepository(options(api));
      expect(content(await readDashboard(options(api)))).toEqual(ref.content);
    });
  }

  it("a run's job list cut short (total_count says more): not saved, fetched again by the rerun", async () => {
    const ref = await reference();
    const api = await fake();
    let cut = '';
    const lying = tampered(async (path) => {
      if (cut === '' && path.includes('/jobs?')) {
        const res = await rewrite(`${api.url}${path}`, 'jobs', (list) => list.slice(0, list.length - 1));
        const body = (await res.clone().json()) as { total_count: number; jobs: unknown[] };
        if (body.total_count === 0) return undefined; // a run without jobs: nothing to cut
        cut = path;
        return res;
      }
      return undefined;
    });
    const first = await collectRepository({ ...options(api), fetch: lying }).then(
      () => 'ok',
      (e: { code?: string }) => e.code,
    );
    expect(first).toBe('UNAVAILABLE');
    await collectRepository(options(api));
    // Asked twice: the cut answer (refused, not saved) and the rerun's.
    expect(api.calls.filter((c) => c === cut)).toHaveLength(2);
    expect(new Set(api.calls).size).toBe(api.calls.length - 1);
    expect(content(await readDashboard(options(api)))).toEqual(ref.content);
  });
});
