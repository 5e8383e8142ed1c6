// Seed 001's collector resuming an interrupted collection (fake GitHub on 127.0.0.1): a walk
// goes on in the page size it began with whatever perPage the rerun is given, a checkpoint
// from before the page size was kept starts its walk over rather than guess, an answer that
// is not JSON (or not a Response) is UNAVAILABLE like any failed call, and a bad clock is
// BAD_INPUT before anything is created.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectRepository, openRepositoryStore, readDashboard, type Dashboard } from './collector.mjs';
import { startFakeApi, type FakeApi } from './fake-api.mjs';

const REPO = 'acme/web';
const RUNS = 95;
const WORKFLOWS = [{ id: 11, name: 'CI', runs: RUNS }];
const START = Math.floor(Date.now() / 1000) * 1000 - 30 * 86_400_000;

let dir: string;
const apis: FakeApi[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-gha-resume-'));
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
const options = (api: FakeApi, sub = 'stores') => ({ dir: join(dir, sub), owner: 'acme', repo: 'web', apiUrl: api.url });
const content = (d: Dashboard) => ({ runs: d.runs, jobs_by_run: d.jobs_by_run });
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e as { name?: string; code?: string; hint?: string; details?: { status?: number } },
  );

type Init = { headers: Record<string, string> };
/** A fetch whose `n`-th call is answered by `answer` instead of the fake. */
function failingAt(n: number, answer: () => unknown) {
  let calls = 0;
  return async (url: string, init: Init) => (++calls === n ? (answer() as Response) : fetch(url, init));
}
const serverError = () => new Response('{"message":"Server Error"}', { status: 500 });

async function reference(api: FakeApi) {
  await collectRepository(options(api, 'reference'));
  return content(await readDashboard(options(api, 'reference')));
}

describe('gha-dashboard collector: a resumed walk keeps its page size', () => {
  for (const [first, rerun, failAt] of [
    [20, undefined, 4], // pages 1-2 of 20 committed; the rerun asks for the default, 100
    [50, 10, 3], // page 1 of 50 committed; the rerun asks for 10
  ] as const) {
    it(`interrupted at perPage ${first}, rerun with perPage ${rerun ?? 'left out'}: every run, no answered call twice`, async () => {
      const api = await fake();
      const ref = await reference(api);
      api.calls.length = 0;
      // Call 1 is the workflow list, then pages 1, 2, ... of the one workflow.
      const failed = await outcome(collectRepository({ ...options(api), perPage: first, fetch: failingAt(failAt, serverError) }));
      expect(failed?.code).toBe('UNAVAILABLE');
      const lines: string[] = [];
      await collectRepository({ ...options(api), ...(rerun && { perPage: rerun }), onProgress: (l) => lines.push(l) });
      expect(lines[0]).toBe(`CI: resuming at page ${failAt - 1} of ${first} runs, the interrupted walk's perPage`);
      expect(new Set(api.calls).size, api.calls.join('\n')).toBe(api.calls.length);
      const runPages = api.calls.filter((c) => c.includes('/runs?'));
      expect(runPages.every((c) => c.includes(`per_page=${first}&`))).toBe(true);
      const d = await readDashboard(options(api));
      expect(content(d)).toEqual(ref);
      expect(Object.keys(d.runs)).toHaveLength(RUNS);
      expect(d.workflow_date_ranges['11']!.complete).toBe(true);
      // The next collection walks in its own page size, and finds everything held.
      const from = api.calls.length;
      await collectRepository({ ...options(api), ...(rerun && { perPage: rerun }) });
      expect(api.calls.slice(from)).toEqual([
        expect.stringContaining('/workflows?'),
        expect.stringContaining(`/runs?per_page=${rerun ?? 100}&page=1`),
      ]);
    });
  }

  it('a checkpoint without perPage (an earlier version of the collector) starts that walk over at page 1', async () => {
    const api = await fake();
    const failed = await outcome(collectRepository({ ...options(api), perPage: 20, fetch: failingAt(4, serverError) }));
    expect(failed?.code).toBe('UNAVAILABLE');
    // Rewrite the checkpoint as the previous version wrote it: page 3 of 20, no page size.
    const h = await openRepositoryStore(options(api).dir, 'acme', 'web');
    try {
      const kv = h.store.kv<{ checkpoint: Record<string, unknown> }>('sync.streams');
      const state = (await kv.get('runs:11'))!;
      expect(state.checkpoint).toMatchObject({ page: 3, perPage: 20 });
      delete state.checkpoint.perPage;
      await kv.set('runs:11', state);
    } finally {
      await h.store.close();
    }
    const from = api.calls.length;
    await collectRepository(options(api));
    expect(api.calls.slice(from).find((c) => c.includes('/runs?'))).toContain('/runs?per_page=100&page=1');
    const d = await readDashboard(options(api));
    expect(Object.keys(d.runs)).toHaveLength(RUNS);
    expect(Object.keys(d.jobs_by_run)).toHaveLength(RUNS);
    expect(d.workflow_date_ranges['11']!.complete).toBe(true);
  });
});

describe('gha-dashboard collector: an answer it cannot read is UNAVAILABLE', () => {
  it('a 200 whose body is not JSON: UNAVAILABLE, and the rerun resumes with every run', async () => {
    const api = await fake();
    const html = () => new Response('<html>502 Bad Gateway</html>', { status: 200, headers: { 'content-type': 'text/html' } });
    const failed = await outcome(collectRepository({ ...options(api), perPage: 20, fetch: failingAt(3, html) }));
    expect(failed).toMatchObject({ name: 'StrataError', code: 'UNAVAILABLE', details: { status: 200 } });
    expect(failed?.hint).toContain('not JSON');
    expect(failed?.hint).toContain('apiUrl');
    await collectRepository({ ...options(api), perPage: 20 });
    expect(new Set(api.calls).size).toBe(api.calls.length);
    expect(Object.keys((await readDashboard(options(api))).runs)).toHaveLength(RUNS);
  });

  it('a fetch that resolves to something other than a Response is UNAVAILABLE', async () => {
    const api = await fake();
    for (const [i, notResponse] of [undefined, null, {}, { ok: true }, 'ok'].entries()) {
      const failed = await outcome(collectRepository({ ...options(api, `s${i}`), fetch: failingAt(2, () => notResponse) }));
      expect(failed, String(notResponse)).toMatchObject({ name: 'StrataError', code: 'UNAVAILABLE' });
      expect(failed?.hint).toContain('Response');
    }
  });
});

describe('gha-dashboard collector: the clock is checked before anything is created', () => {
  it('a clock that returns NaN, a string or throws, or clock: null, is BAD_INPUT with no call made', async () => {
    const api = await fake();
    const o = options(api);
    for (const clock of [
      () => Number.NaN,
      () => '2024-01-01',
      () => 9e15,
      () => {
        throw new Error('clock broke');
      },
      null,
    ]) {
      const failed = await outcome(collectRepository({ ...o, clock: clock as never }));
      expect(failed, String(clock)).toMatchObject({ name: 'StrataError', code: 'BAD_INPUT' });
      expect(failed?.hint).toContain('epoch milliseconds');
    }
    // The other options left out only when undefined: null is refused, not the default.
    for (const option of ['apiUrl', 'perPage', 'fetch'])
      expect(await outcome(collectRepository({ ...o, [option]: null })), option).toMatchObject({ code: 'BAD_INPUT' });
    expect(api.calls).toEqual([]);
    expect(existsSync(o.dir)).toBe(false);
  });

  it('a clock that goes bad during a collection is BAD_INPUT, and what was committed stays', async () => {
    const api = await fake();
    let readings = 0;
    const clock = () => (++readings <= 2 ? Date.now() : Number.NaN);
    const failed = await outcome(collectRepository({ ...options(api), clock }));
    expect(failed).toMatchObject({ name: 'StrataError', code: 'BAD_INPUT' });
    expect(Object.keys((await readDashboard(options(api))).runs)).toHaveLength(RUNS);
    const from = api.calls.length;
    await collectRepository(options(api));
    // The rerun finishes the collection: the walk and the jobs were done already.
    expect(api.calls.slice(from)).toEqual([]);
    expect((await readDashboard(options(api))).last_updated).not.toBeNull();
  });
});
