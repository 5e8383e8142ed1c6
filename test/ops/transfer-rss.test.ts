import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ExportWriter } from '../../src/ops/transfer/writer.js';
import { requireBuild } from '../cli/helpers.js';

const root = mkdtempSync(join(tmpdir(), 'strata-transfer-rss-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const FIXTURE = resolve(import.meta.dirname, '../fixtures/transfer-import.mjs');

/** An export file of `n` kv records, written directly (no store to fill first). */
async function exportOf(n: number): Promise<string> {
  const path = join(root, `${n}.strata`);
  const writer = await ExportWriter.create(path, { driver: 'sqlite', values: 'stored', createdAt: Date.now() });
  await writer.space('kv.bench');
  for (let i = 0; i < n; i++) {
    const value = JSON.stringify({ id: i, name: `user-${i}`, email: `user${i}@example.com`, tags: ['a', 'b'] });
    await writer.record({
      key: `k${String(i).padStart(8, '0')}`,
      value,
      version: 1,
      createdAt: 1,
      updatedAt: 1,
      expiresAt: null,
    });
  }
  await writer.finish();
  return path;
}

function importPeak(file: string, db: string): number {
  const run = spawnSync(process.execPath, [FIXTURE, file, db], { encoding: 'utf8', timeout: 80_000 });
  expect(run.status, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { maxRssMb: number }).maxRssMb;
}

// The target as the bench measures it (bench/RESULTS.md: 1M within 1.5x of 100k, with
// default settings), held here at 100k and 500k to keep the suite's time down. The smaller size
// must not be below ~100k records: SQLite's page caches (up to 32 MiB per connection) fill up
// to about there, a constant that a 50k import has not yet paid (measured: 50k 113 MiB, 100k
// 156, 200k 158, 500k 176). At 1M the store outgrows what SQLite's default memory map would
// otherwise add to the RSS (2.2x before the swap turned the map off).
it('import peak RSS is flat in the record count (500k within 1.5x of 100k)', async () => {
  requireBuild();
  const small = importPeak(await exportOf(100_000), join(root, 'small.db'));
  const large = importPeak(await exportOf(500_000), join(root, 'large.db'));
  expect(large / small, `${small.toFixed(0)} MiB -> ${large.toFixed(0)} MiB`).toBeLessThan(1.5);
}, 90_000);
