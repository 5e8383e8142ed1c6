// Progress of export and import when stderr is not a terminal (README "CLI": "a plain line at
// each tenth of the work, or every 100,000 records where the total is not known in advance").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { requireBuild, strata } from './helpers.js';

let dir: string;
beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'strata-cli-transfer-progress-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('strata import on a non-terminal', () => {
  it('prints a line at each tenth of the write phase, and one at its end', async () => {
    const from = `sqlite:${join(dir, 'from.db')}`;
    const store = await openStore({ url: from, sweepInterval: false });
    for (let i = 0; i < 60_000; i += 10_000) {
      await store.kv('items').setMany(Array.from({ length: 10_000 }, (_, j) => [`k${i + j}`, i + j] as [string, number]));
    }
    await store.close();
    const file = join(dir, 'items.strata');
    expect(strata(['--url', from, 'export', file, '--quiet'], { cwd: dir }).code).toBe(0);
    const result = strata(['--url', `sqlite:${join(dir, 'to.db')}`, 'import', file], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    const writes = result.stderr.split('\n').filter((line) => /^importing [\d,]+ of 60,000 records$/.test(line));
    // Reported every 5,000 records by the store, shown once a tenth (6,000) has passed.
    expect(writes.length).toBeGreaterThanOrEqual(5);
    expect(writes.length).toBeLessThanOrEqual(11);
    expect(writes.at(-1)).toBe('importing 60,000 of 60,000 records');
  });
});
