// 4 migrators started at once on one store, the one running migrations SIGKILLed at random
// moments (seeded) three times: each time a waiting one takes over (the holder's process is
// gone), undoes the dead run from its restore point and runs again. In the end every
// migration is applied exactly once (its writes once, its record once), nothing of a dead run
// is left, and the store verifies.
import Database from 'better-sqlite3';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rng } from '../rng.js';
import { fixture, LineChild, sleep, tempDir } from '../reliability/helpers.js';
import type { MigrateResult } from '../../src/ops/migrate-types.js';
import { open, urlFor } from './migrate-helpers.js';

const WORKER = fixture('migrate-worker.mjs');
const NAMES = ['001_a', '002_b', '003_c', '004_d'];

async function writeMigrations(dir: string, sqlite: boolean): Promise<void> {
  await mkdir(dir);
  for (const name of NAMES) {
    await writeFile(
      join(dir, `${name}.mjs`),
      `import { writeSync } from 'node:fs';
export async function up(m) {
  writeSync(1, 'M ${name}\\n');
  for (let i = 0; i < 20; i++) {
    await m.kv('data').set('${name}:' + i, i);
    await new Promise((r) => setTimeout(r, 4));
  }
  await m.kv('effects').incr('${name}');
}
`,
    );
  }
  if (sqlite) await writeFile(join(dir, '003_t.sql'), 'CREATE TABLE t (a INTEGER);\nINSERT INTO t VALUES (1);\n');
}

describe.each(['sqlite', 'file'] as const)('4 migrators, the running one SIGKILLed at random moments, on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  const children: LineChild[] = [];
  beforeEach(async () => {
    dir = await tempDir('migrate-kill-race');
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill();
    await dir.dispose();
  });

  it('each migration is applied exactly once and the store is consistent', async () => {
    const random = rng(backend === 'sqlite' ? 17 : 29);
    const url = urlFor(backend, dir.path);
    const migrations = join(dir.path, 'migrations');
    await writeMigrations(migrations, backend === 'sqlite');
    const seed = await open(url);
    await seed.kv('app').set('theme', 'dark');
    await seed.close();

    for (let i = 0; i < 4; i++) children.push(new LineChild(WORKER, [url, 'concurrent', migrations], { stdin: true }));
    await Promise.all(children.map((c) => c.waitFor('R', 30_000, 'worker ready')));
    for (const c of children) {
      c.send('go\n');
      c.proc.stdin!.end();
    }
    const killed = new Set<LineChild>();
    const seen = new Map<LineChild, number>(children.map((c) => [c, 0]));
    for (let round = 0; round < 3; round++) {
      // Wait for a migration to start in a live child: that child holds the lease.
      let holder: LineChild | undefined;
      for (const deadline = Date.now() + 30_000; holder === undefined && Date.now() < deadline;) {
        for (const c of children) {
          if (killed.has(c)) continue;
          const starts = c.lines.filter((l) => l.startsWith('M ')).length;
          if (starts > seen.get(c)!) holder = c;
          seen.set(c, starts);
        }
        if (holder === undefined) await sleep(5);
      }
      if (holder === undefined) break; // every migration was applied before this round
      await sleep(Math.floor(random() * 150));
      holder.kill();
      killed.add(holder);
      await holder.exit(10_000);
    }
    const results: MigrateResult[] = [];
    for (const c of children.filter((c) => !killed.has(c))) {
      const exit = await c.exit(60_000);
      expect(exit.code, c.stderr).toBe(0);
      results.push(JSON.parse(c.lines.find((l) => l.startsWith('D '))!.slice(2)) as MigrateResult);
    }
    expect(killed.size).toBeGreaterThan(0);

    const store = await open(url);
    try {
      // Whatever a survivor did not get to is still pending, and runs now: once.
      const last = await store.migrate({ dir: migrations });
      const expected = backend === 'sqlite' ? [...NAMES, '003_t'].sort() : NAMES;
      expect([...results.flatMap((r) => r.applied), ...last.applied].sort()).toEqual(expected);
      for (const name of NAMES) expect(await store.kv('effects').get(name), name).toBe(1);
      expect(await store.kv('data').count()).toBe(NAMES.length * 20);
      expect(await store.kv('app').get('theme')).toBe('dark');
      const status = await store.migrations.status({ dir: migrations });
      expect(status.map((s) => [s.name, s.state])).toEqual(expected.map((n) => [n, 'applied']));
      expect(await store.driver.get('meta.migrations', 'run', Date.now())).toBeNull();
      expect((await store.verify()).ok).toBe(true);
    } finally {
      await store.close();
    }
    if (backend === 'sqlite') {
      const db = new Database(join(dir.path, 'store.db'), { readonly: true });
      try {
        expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 });
      } finally {
        db.close();
      }
    }
  });
});
