import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuild, startStrata, strata } from '../cli/helpers.js';

// `strata demo` (what `npm start` runs) started twice at once on one store, as two terminals
// running `npm start` do: one demo runs at a time per store (under the store's migrator
// lease); the other is refused at once with LOCKED (exit 6, retry later) and a hint.

let root: string;
beforeAll(() => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), 'strata-demo-lease-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const RECORDS = '20000';

interface DemoJson {
  remaining: number;
  records: number;
}

describe('two demos at once on one store', () => {
  // `strata demo --help`: "reset  empties the "deployments" collection: every run starts it
  // afresh". Two demos at once would empty and refill it under each other.
  it('each run reports what a run alone reports, or is refused with exit 6', async () => {
    const alone = strata(['--url', `sqlite:${join(root, 'alone.db')}`, '--json', 'demo', '--records', RECORDS], { cwd: root });
    expect(alone.code, alone.stderr).toBe(0);
    const expected = (JSON.parse(alone.stdout) as DemoJson).remaining;

    const problems: string[] = [];
    for (let round = 0; round < 3; round++) {
      const url = `sqlite:${join(root, `shared-${round}.db`)}`;
      const runs = await Promise.all(
        [0, 1].map(() => startStrata(['--url', url, '--json', 'demo', '--records', RECORDS], { cwd: root }).done),
      );
      for (const r of runs) {
        if (r.code === 6) {
          if (!/^error LOCKED: /m.test(r.stderr) || !/^hint: /m.test(r.stderr)) problems.push(`round ${round}: ${r.stderr}`);
          continue;
        }
        if (r.code !== 0) {
          problems.push(`round ${round}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
          continue;
        }
        const remaining = (JSON.parse(r.stdout) as DemoJson).remaining;
        if (remaining !== expected) problems.push(`round ${round}: exit 0 but ${remaining} remain, alone ${expected}`);
      }
    }
    expect(problems).toEqual([]);
    // A demo that finished released the store: the next one runs.
    const after = strata(['--url', `sqlite:${join(root, 'shared-0.db')}`, '--json', 'demo', '--records', '100'], { cwd: root });
    expect(after.code, after.stderr).toBe(0);
  }, 60_000);
});
