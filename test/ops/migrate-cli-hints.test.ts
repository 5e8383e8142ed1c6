// The hints `strata migrate` prints name what a CLI user can do: where the fix is an option,
// its CLI flag too (README "CLI": hints are shared by the API and the CLI and name both).
// `--wait` takes a duration or, as the CLI's other durations and the API's number,
// milliseconds as bare digits; anything else is refused with a hint showing both forms.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorCode, requireBuild, strata } from '../cli/helpers.js';
import { tempDir } from '../reliability/helpers.js';
import { open } from './migrate-helpers.js';

const hint = (stderr: string): string => /^hint: (.*)$/m.exec(stderr)?.[1] ?? '';

describe('strata migrate hints', () => {
  let dir: { path: string; dispose(): Promise<void> };
  let work: string;
  const run = (...args: string[]) => strata(['--url', 'sqlite:store.db', ...args], { cwd: work });
  beforeAll(() => requireBuild());
  beforeEach(async () => {
    dir = await tempDir('migrate-cli-hints');
    work = join(dir.path, 'work');
    await mkdir(join(work, 'migrations'), { recursive: true });
  });
  afterEach(async () => dir.dispose());

  it('down stopped by a migration without a down: the hint names { to } and --to', async () => {
    await writeFile(join(work, 'migrations', '001.mjs'), 'export async function up(m) { await m.kv("a").set("k", 1); }\n');
    expect(run('migrate', 'up').code).toBe(0);
    const down = run('migrate', 'down', '--all');
    expect([down.code, errorCode(down)]).toEqual([1, 'MIGRATION_FAILED']);
    expect(hint(down.stderr)).toContain('{ to: "001" }; CLI: --to 001');
  });

  it('--wait 5 is 5 ms: TIMEOUT waiting for another migrator at once, with a hint naming { wait } and --wait', async () => {
    await writeFile(join(work, 'migrations', '001.sql'), 'CREATE TABLE a (x);\n');
    const store = await open(`sqlite:${join(work, 'store.db')}`);
    try {
      const value = JSON.stringify({ owner: 'other', process: 'another-host:1', until: Date.now() + 120_000 });
      await store.driver.batch(
        [{ type: 'put', space: 'meta.migrations-lock', key: 'lease', value, expiresAt: null }],
        Date.now(),
      );
    } finally {
      await store.close();
    }
    const started = Date.now();
    const waited = run('migrate', 'up', '--wait', '5');
    expect([waited.code, errorCode(waited)]).toEqual([6, 'TIMEOUT']);
    expect(Date.now() - started).toBeLessThan(4000); // not 5 s
    expect(hint(waited.stderr)).toContain("{ wait: '30m' } (CLI: --wait 30m)");
  });

  it('--wait that is not a duration: BAD_INPUT with a hint showing what --wait takes', () => {
    const bad = run('migrate', 'up', '--wait', '5x');
    expect([bad.code, errorCode(bad)]).toEqual([2, 'BAD_INPUT']);
    expect(hint(bad.stderr)).toBe('e.g. --wait 30s, --wait 10m, --wait 2h, or milliseconds: --wait 500 (at most 7d)');
  });
});
