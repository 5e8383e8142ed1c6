// A big backup's scratch copy is verified on several threads: integrity_check on one worker,
// the records of each big table split by key range over the others. Whatever the file holds,
// the report must be exactly the one the single-threaded verifyTables gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '../../src/index.js';
import { registerChecksumFunctions } from '../../src/drivers/sqlite-checksum.js';
import { tableName } from '../../src/drivers/sqlite-spaces.js';
import { verifyTables } from '../../src/drivers/sqlite-verify.js';
import { verifyFileInParallel } from '../../src/drivers/sqlite-verify-parallel.js';
import { recordsCheckInWorker } from '../../src/drivers/sqlite-integrity.js';
import { flipByte } from './sqlite-damage-helpers.js';

let root: string;
let sound: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'strata-verify-parallel-'));
  sound = join(root, 'sound.db');
  const store = await openStore({ url: `sqlite:${sound}`, durability: 'normal', sweepInterval: false });
  for (const [name, n] of [
    ['big', 6_000],
    ['other', 2_500],
    ['small', 40],
  ] as const) {
    const kv = store.kv(name);
    for (let i = 0; i < n; i += 500) {
      await kv.setMany(
        Array.from(
          { length: Math.min(500, n - i) },
          (_, j) =>
            [`k${String(i + j).padStart(5, '0')}`, { n: i + j, text: 'é'.repeat((i + j) % 7), pad: 'x'.repeat(60) }] as [
              string,
              unknown,
            ],
        ),
      );
    }
    await kv.set('k00003', { n: 3 }, { ttl: 3_600_000 });
  }
  await store.close();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Verdict = { report: unknown } | { threw: true };

async function bothWays(file: string): Promise<[Verdict, Verdict]> {
  const db = new Database(file, { fileMustExist: true });
  try {
    registerChecksumFunctions(db, 'test');
    let inline: Verdict;
    try {
      inline = { report: verifyTables(db) };
    } catch {
      inline = { threw: true };
    }
    const parallel: Verdict = await verifyFileInParallel(db, file, { parts: 3, minSplitRows: 1_000 }).then(
      (report) => ({ report }),
      () => ({ threw: true as const }),
    );
    return [inline, parallel];
  } finally {
    db.close();
  }
}

function damage(file: string, sql: (table: (space: string) => string) => string): void {
  const db = new Database(file);
  try {
    registerChecksumFunctions(db, 'test');
    db.exec(sql((space) => tableName(`kv.${space}`)));
  } finally {
    db.close();
  }
}

describe('verify on several threads', () => {
  it('a sound file: the same report, every record counted once', async () => {
    const [inline, parallel] = await bothWays(sound);
    expect(parallel).toEqual(inline);
    expect(inline).toMatchObject({ report: { ok: true, checked: 8_540, issues: [] } });
  });

  it('records damaged in every range, of every kind: the same issues in the same order', async () => {
    const file = join(root, 'damaged.db');
    copyFileSync(sound, file);
    damage(
      file,
      (t) => `
        UPDATE ${t('big')} SET crc = crc + 1 WHERE key IN ('k00010', 'k02500', 'k04100', 'k05999');
        UPDATE ${t('big')} SET value = '{"n": 1' , crc = strata_crc(key, '{"n": 1', updated_at, expires_at) WHERE key = 'k03000';
        UPDATE ${t('other')} SET version = version + 1 WHERE key IN ('k00001', 'k02000');
        UPDATE ${t('other')} SET key = CAST(key AS BLOB) WHERE key = 'k02400';
        INSERT INTO ${t('big')} (key, value, version, created_at, updated_at, expires_at, crc, vsum)
          VALUES (42, '1', 1, 1, 1, NULL, 0, 0), (X'00ff', '1', 1, 1, 1, NULL, 0, 0), ('', '1', 1, 1, 1, NULL, 0, 0);
      `,
    );
    const [inline, parallel] = await bothWays(file);
    expect(parallel).toEqual(inline);
    const report = (inline as { report: { ok: boolean; issues: Array<{ key?: string }> } }).report;
    expect(report.ok).toBe(false);
    expect(report.issues.map((i) => i.key)).toEqual(
      expect.arrayContaining(['k00010', 'k02500', 'k04100', 'k05999', 'k03000', 'k00001', 'k02000']),
    );
  });

  it('more than 1,000 damaged records across the ranges: one capped list, as inline', async () => {
    const file = join(root, 'many.db');
    copyFileSync(sound, file);
    damage(file, (t) => `UPDATE ${t('big')} SET crc = crc + 1 WHERE CAST(substr(key, 2) AS INTEGER) % 4 = 0`);
    const [inline, parallel] = await bothWays(file);
    expect(parallel).toEqual(inline);
    expect(JSON.stringify(inline)).toContain('500 more damaged records');
  });

  it('byte flips at 60 offsets of the file: the same verdict each time', async () => {
    const size = statSync(sound).size;
    const file = join(root, 'flipped.db');
    let seen = 0;
    for (let i = 0; i < 60; i++) {
      copyFileSync(sound, file);
      const offset = 4096 + Math.floor((((i * 7919) % 1000) / 1000) * (size - 4096));
      flipByte(file, offset, 0x20);
      const [inline, parallel] = await bothWays(file);
      expect(parallel, `offset ${offset}`).toEqual(inline);
      if (!('report' in inline) || !(inline.report as { ok: boolean }).ok) seen++;
    }
    expect(seen, 'some flips must be seen').toBeGreaterThan(10);
  });

  it('b-tree pages SQLite finds damaged: the same verdict, whichever thread trips over them', async () => {
    // A flip in a page's cell count makes SQLite's integrity_check fail, and reading records
    // over that page fail or skip rows, depending on which range reads it: only SQLite's
    // verdict is reported, by both.
    const pages = statSync(sound).size / 4096;
    const file = join(root, 'tree.db');
    for (let page = 2; page < pages; page += Math.ceil(pages / 40)) {
      copyFileSync(sound, file);
      flipByte(file, (page - 1) * 4096 + 3, 0x20);
      const [inline, parallel] = await bothWays(file);
      expect(parallel, `page ${page}`).toEqual(inline);
      // SQLite's findings alone, no record count (README "SQLite damage detection"), or unreadable.
      if ('report' in inline) expect(inline.report, `page ${page}`).toMatchObject({ ok: false, checked: 0 });
    }
  });

  it('a worker asked to stop ends at its next page and reports it stopped; stop() waits for its exit', async () => {
    const table = tableName('kv.big');
    const worker = recordsCheckInWorker(sound, [{ table, after: '', upTo: null }]);
    await worker.stop();
    await expect(worker.answer).rejects.toThrow('the check was stopped');
    // Stopping one that already answered changes nothing.
    const done = recordsCheckInWorker(sound, [{ table, after: '', upTo: null }]);
    const [range] = await done.answer;
    await done.stop();
    expect(range).toMatchObject({ table, checked: 6_000, pages: [] });
  });
});
