import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spaceTable } from '../../src/cli/space-table.js';
import { requireBuild, strata } from './helpers.js';

// `strata list` and `strata stats` count live records: what `list <name>` and `get` return.
// The counts come from the drivers (store.stats()); the CLI shows `records` as they are and an
// `expired` column only when a backend reports expired records not swept yet.

let dir: string;

beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'strata-cli-live-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('space table', () => {
  it('shows an expired column only when some space has expired records', () => {
    const plain = spaceTable({ kv: [{ name: 'app', records: 2, bytes: 10 }], collections: [] })!;
    expect(plain.split('\n')[0]).toBe('kind  name  records  bytes');
    const expired = spaceTable({
      kv: [{ name: 'app', records: 1, bytes: 10, expired: 3 }],
      collections: [{ name: 'tasks', records: 4, bytes: 99 }],
    })!;
    const [header, , app, tasks] = expired.split('\n');
    expect(header!.split(/\s+/)).toEqual(['kind', 'name', 'records', 'bytes', 'expired']);
    expect(app!.split(/\s+/)).toEqual(['kv', 'app', '1', '10', 'B', '3']);
    expect(tasks!.split(/\s+/)).toEqual(['collection', 'tasks', '4', '99', 'B', '0']);
    expect(spaceTable({ kv: [], collections: [] })).toBeNull();
  });
});

describe('live counts', () => {
  for (const url of [`sqlite:${join('.', 'live.db')}`, 'file:live-files']) {
    it(`${url.split(':')[0]}: list and stats count what list <name> returns once a ttl passed`, async () => {
      const run = (...args: string[]) => strata(['--url', url, ...args], { cwd: dir });
      expect(run('set', 'app', 'kept', '1').code).toBe(0);
      expect(run('set', 'app', 'gone', '1', '--ttl', '1ms').code).toBe(0);
      await new Promise((r) => setTimeout(r, 20));
      const keys = JSON.parse(run('list', 'app', '--json').stdout) as string[];
      expect(keys).toEqual(['kept']);
      const listed = JSON.parse(run('list', '--json').stdout) as {
        kv: Array<{ name: string; records: number; expired?: number }>;
      };
      expect(listed.kv.find((s) => s.name === 'app')?.records).toBe(keys.length);
      const stats = JSON.parse(run('stats', '--json').stdout) as {
        records: number;
        kv: Array<{ name: string; records: number }>;
      };
      expect(stats.kv.find((s) => s.name === 'app')?.records).toBe(keys.length);
      expect(stats.records).toBe(keys.length);
      const human = run('list')
        .stdout.split('\n')
        .find((line) => line.startsWith('kv'))!;
      expect(human.split(/\s+/)[2]).toBe(String(keys.length));
    });
  }
});
