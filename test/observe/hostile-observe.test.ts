import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError, type Store } from '../../src/index.js';
import { readTotals, METRICS_SPACE } from '../../src/observe/persist.js';
import { parseExposition, valueOf, type Sample } from './exposition.js';
import { requireBuild } from '../cli/helpers.js';
import { rng } from '../rng.js';

// Hostile loggers, hostile space names, many spaces, and SIGKILL between metrics flushes.

const FIXTURES = resolve(import.meta.dirname, '../fixtures');
let dir: string;
const opened: Store[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-hostile-observe-'));
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function open(options: Parameters<typeof openStore>[0]): Promise<Store> {
  const store = await openStore(options);
  opened.push(store);
  return store;
}

const codeOf = async (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'resolved',
    (e: unknown) => (StrataError.is(e) ? e.code : `not a StrataError: ${String(e)}`),
  );

const samplesOf = async (store: Store): Promise<Sample[]> => parseExposition(await store.metrics()).samples;
const spacesOf = (samples: Sample[]): Set<string> =>
  new Set(samples.map((s) => s.labels.space).filter((s): s is string => s !== undefined));

describe('hostile loggers', () => {
  it('an async logger whose every call rejects never ends the process (no unhandled rejection)', () => {
    requireBuild();
    const result = spawnSync(process.execPath, [join(FIXTURES, 'async-logger.mjs'), `sqlite:${join(dir, 'a.db')}`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.stderr).not.toContain('transport down');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('done 2 BAD_INPUT\n');
  });

  it('a logger whose methods are getters that throw (or a revoked proxy) is BAD_INPUT and opens nothing', async () => {
    const throwing = {
      get debug(): never {
        throw new Error('boom');
      },
      info() {},
      warn() {},
      error() {},
    };
    const { proxy, revoke } = Proxy.revocable({ debug() {}, info() {}, warn() {}, error() {} }, {});
    revoke();
    for (const logger of [throwing, proxy]) {
      const path = join(dir, 'never.db');
      expect(await codeOf(openStore({ url: `sqlite:${path}`, logger: logger as never }))).toBe('BAD_INPUT');
      expect(existsSync(path)).toBe(false);
    }
  });

  it('a logger whose isLevelEnabled throws, or whose methods vanish after open, changes no outcome', async () => {
    const logger: Record<string, unknown> = {
      debug() {},
      info() {},
      warn() {},
      error() {},
      isLevelEnabled() {
        throw new Error('no levels');
      },
    };
    const store = await open({ url: `sqlite:${join(dir, 'b.db')}`, logger: logger as never, sweepInterval: false });
    const kv = store.kv('app');
    await kv.set('a', 1);
    delete logger.warn;
    delete logger.debug;
    expect(await codeOf(kv.set('', 1))).toBe('BAD_INPUT');
    expect(await kv.incr('n')).toBe(1);
    expect(await kv.get('a')).toBe(1);
  });
});

describe('metrics labels under hostile load', () => {
  it('10,000 namespaces: the exposition stays strict Prometheus text with at most maxSpaces + _other + _store spaces', async () => {
    const store = await open({ url: 'memory:', metrics: { flushInterval: false }, sweepInterval: false });
    await store.purgeExpired(); // _store first: it must not take a namespace's place
    for (let i = 0; i < 10_000; i++) await store.kv(`n${i}`).set('k', i);
    const text = await store.metrics();
    const samples = parseExposition(text).samples;
    const spaces = spacesOf(samples);
    expect(spaces.size).toBeLessThanOrEqual(102);
    expect(spaces.has('_other')).toBe(true);
    expect(spaces.has('_store')).toBe(true);
    // _store comes on top of the cap: 100 spaces of the store's own get a label.
    expect([...spaces].filter((s) => s !== '_other' && s !== '_store')).toHaveLength(100);
    const batches = samples.filter((s) => s.name === 'strata_operations_total' && s.labels.op === 'batch');
    expect(batches.reduce((n, s) => n + s.value, 0)).toBe(10_000);
    const records = samples.filter((s) => s.name === 'strata_records');
    expect(records.reduce((n, s) => n + s.value, 0)).toBe(10_000);
  });

  it('with maxSpaces 3, _store and _other come on top: 3 spaces of their own', async () => {
    const store = await open({ url: 'memory:', metrics: { maxSpaces: 3, flushInterval: false }, sweepInterval: false });
    await store.purgeExpired();
    for (const name of ['a', 'b', 'c', 'd', 'e']) await store.kv(name).set('k', 1);
    const spaces = spacesOf(await samplesOf(store));
    expect(spaces.has('_store')).toBe(true);
    expect(spaces.has('_other')).toBe(true);
    expect([...spaces].filter((s) => s !== '_other' && s !== '_store')).toHaveLength(3);
  });

  it('space names with quotes, backslashes, newlines and braces (written below the API) keep the text parseable', async () => {
    const store = await open({ url: `sqlite:${join(dir, 'names.db')}`, metrics: { flushInterval: false }, sweepInterval: false });
    const hostile = ['kv.a"b', 'kv.a\\b', 'kv.a\nb', 'kv.x}y{le="1"}', 'kv.é日本'];
    const now = Date.now();
    await store.driver.batch(
      hostile.map((space, i) => ({ type: 'put' as const, space, key: `k${i}`, value: '1', expiresAt: null })),
      now,
    );
    for (const space of hostile) await store.driver.get(space, 'k0', now);
    const samples = await samplesOf(store);
    // The strict reader keeps label values as written: escaped as the format says.
    const escaped = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
    for (const space of hostile) {
      expect(valueOf(samples, 'strata_operations_total', { space: escaped(space), op: 'get' })).toBe(1);
      expect(valueOf(samples, 'strata_operations_total', { space: escaped(space), op: 'batch' })).toBe(1);
      expect(valueOf(samples, 'strata_records', { space: escaped(space) })).toBe(1);
    }
  });
});

interface Child {
  sets: number;
  done: Promise<void>;
  kill(): void;
  ready: Promise<void>;
}

function writer(url: string, name: string, readyAt: number): Child {
  const child = spawn(process.execPath, [join(FIXTURES, 'metrics-killed.mjs'), url, name], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const state: Child = {
    sets: 0,
    done: new Promise((r) => child.once('close', () => r())),
    kill: () => child.kill('SIGKILL'),
    ready: Promise.resolve(),
  };
  let buffer = '';
  state.ready = new Promise((ready, fail) => {
    child.once('close', () => fail(new Error(`writer ${name} exited before ${readyAt} sets`)));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const n = Number(line.split(' ')[1]);
        if (n > state.sets) state.sets = n;
        if (state.sets >= readyAt) ready();
      }
    });
  });
  return state;
}

describe('meta.metrics after SIGKILL', () => {
  for (const kind of ['sqlite', 'file'] as const) {
    it(`${kind}: 4 racing writers killed at random moments leave valid counters, never ahead of the writes`, async () => {
      requireBuild();
      const url = kind === 'sqlite' ? `sqlite:${join(dir, 'k.db')}` : `file:${join(dir, 'k')}`;
      const random = rng(kind === 'sqlite' ? 7 : 11);
      const written = new Map<string, number>();
      for (let round = 0; round < 2; round++) {
        const children = [0, 1, 2, 3].map((i) => ({
          name: `w${i}`,
          child: writer(url, `w${i}`, 25 + Math.floor(random() * 150)),
        }));
        await Promise.all(children.map(async ({ child }) => child.ready));
        for (const { child } of children) child.kill();
        await Promise.all(children.map(async ({ child }) => child.done));
        // What each process had resolved when killed is at least what it printed; at most 25 more.
        for (const { name, child } of children) written.set(name, (written.get(name) ?? 0) + child.sets + 25);
      }
      const store = await open({ url, sweepInterval: false });
      const totals = await readTotals(store.driver, Date.now());
      expect(totals.damaged).toBe(0);
      expect(totals.processes).toBeLessThanOrEqual(8);
      for (const op of totals.ops) {
        expect(op.count).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(op.meanMs) && op.meanMs >= 0).toBe(true);
        for (const n of Object.values(op.errors)) expect(n).toBeGreaterThanOrEqual(0);
        const writes = written.get(op.space.replace(/^kv\./, ''));
        if (op.op === 'batch' && writes !== undefined) expect(op.count).toBeLessThanOrEqual(writes);
      }
      expect((await store.verify()).ok).toBe(true);
      expect((await store.driver.scan(METRICS_SPACE, {}, Date.now())).length).toBe(totals.processes);
    }, 60_000);
  }
});
