// `strata stats` shows the counters that app processes with metrics on wrote to the store:
// per namespace and collection, per operation kind, with errors by code and p50/p99.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, StrataError } from '../../src/index.js';
import { requireBuild, strata } from '../cli/helpers.js';
import { parseExposition, valueOf } from './exposition.js';

let dir: string;
let url: string;

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'strata-cli-metrics-'));
  url = `sqlite:${join(dir, 'app.db')}`;
  for (let run = 0; run < 2; run++) {
    const store = await openStore({ url, metrics: true, sweepInterval: false });
    const kv = store.kv<number>('sessions');
    for (let i = 0; i < 10; i++) await kv.set(`s${i}`, i);
    for (let i = 0; i < 30; i++) await kv.get(`s${i % 10}`);
    await kv.set('s1', 0, { ifVersion: 99 }).catch((e: unknown) => {
      if (!StrataError.is(e, 'CONFLICT')) throw e;
    });
    const docs = store.collection('deployments');
    await docs.insert({ id: `d${run}`, status: 'ok' });
    await docs.query({ status: 'ok' });
    await store.close();
  }
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('strata stats with metrics', () => {
  it('prints the operations table for a person', () => {
    const run = strata(['--url', url, 'stats'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/operations \(counted by 2 processes with metrics on, since \d{4}-\d\d-\d\dT/);
    const row = (name: string, op: string) =>
      run.stdout.split('\n').find((l) => new RegExp(`^\\S+\\s+${name}\\s+${op}\\s`).test(l));
    expect(row('sessions', 'get')).toMatch(/^kv\s+sessions\s+get\s+60\s+-\s+\d+(\.\d+)? (µs|ms)\s+\d+(\.\d+)? (µs|ms)$/);
    // 10 sets and the conflicting one, in each of the 2 processes.
    expect(row('sessions', 'batch')).toMatch(/^kv\s+sessions\s+batch\s+22\s+CONFLICT 2\s/);
    expect(row('deployments', 'scan')).toMatch(/^collection\s+deployments\s+scan\s+[1-9]/);
    expect(run.stdout).not.toMatch(/^\S+\s+meta\./m);
  });

  it('--json has store.stats() plus the totals under "metrics"', () => {
    const run = strata(['--url', url, '--json', 'stats'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as {
      kv: Array<{ name: string; records: number }>;
      metrics: {
        processes: number;
        damaged: number;
        ops: Array<{ space: string; op: string; count: number; errors: Record<string, number>; p50Ms: number; p99Ms: number }>;
      };
    };
    expect(out.kv).toEqual([expect.objectContaining({ name: 'sessions', records: 10 })]);
    expect(out.metrics.processes).toBe(2);
    expect(out.metrics.damaged).toBe(0);
    const get = out.metrics.ops.find((o) => o.space === 'kv.sessions' && o.op === 'get')!;
    expect(get.count).toBe(60);
    expect(get.p99Ms).toBeGreaterThanOrEqual(get.p50Ms);
    expect(out.metrics.ops.find((o) => o.space === 'kv.sessions' && o.op === 'batch')!.errors).toEqual({ CONFLICT: 2 });
  });

  it('--prometheus prints the gauges in Prometheus text', () => {
    const run = strata(['--url', url, 'stats', '--prometheus'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const { samples } = parseExposition(run.stdout);
    expect(valueOf(samples, 'strata_records', { space: 'kv.sessions' })).toBe(10);
    expect(valueOf(samples, 'strata_records', { space: 'c.deployments' })).toBe(2);
  });

  it('a store no process counted in shows no operations table', async () => {
    const plain = `sqlite:${join(dir, 'plain.db')}`;
    const store = await openStore({ url: plain, sweepInterval: false });
    await store.kv('a').set('k', 1);
    await store.close();
    const run = strata(['--url', plain, 'stats'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain('operations');
    const json = JSON.parse(strata(['--url', plain, '--json', 'stats'], { cwd: dir }).stdout) as {
      metrics: { processes: number; ops: unknown[] };
    };
    expect(json.metrics).toMatchObject({ processes: 0, ops: [] });
  });
});

describe('strata --log-level', () => {
  const jsonLines = (stderr: string) =>
    stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('writes the store logs as pino JSON on stderr; stdout stays the data', () => {
    const run = strata(['--url', url, '--log-level', 'warn', 'set', 'sessions', 's1', '7', '--if-version', '42'], { cwd: dir });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('CONFLICT');
    expect(jsonLines(run.stderr)).toEqual([
      expect.objectContaining({ level: 40, op: 'kv.set', space: 'kv.sessions', code: 'CONFLICT' }),
    ]);
    const debug = strata(['--url', url, '--log-level', 'debug', 'get', 'sessions', 's2'], { cwd: dir });
    expect(debug.code, debug.stderr).toBe(0);
    expect(debug.stdout.trim()).toBe('2');
    const lines = jsonLines(debug.stderr);
    expect(lines.map((l) => l.event ?? l.op)).toEqual(expect.arrayContaining(['open', 'kv.getEntry', 'close']));
    expect(lines.every((l) => !JSON.stringify(l).includes('"s2"'))).toBe(true);
  });

  it('an unknown level is BAD_INPUT (exit 2)', () => {
    const run = strata(['--url', url, '--log-level', 'loud', 'stats'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('BAD_INPUT');
  });
});
