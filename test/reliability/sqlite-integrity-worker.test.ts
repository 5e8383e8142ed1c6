// A big backup's SQLite integrity_check runs on a worker thread beside the record checks:
// it must answer exactly what the inline check answers, on sound and on damaged files, and a
// backup verified either way must get the same verdict.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '../../src/index.js';
import { integrityCheckInWorker } from '../../src/drivers/sqlite-integrity.js';
import { tableName } from '../../src/drivers/sqlite-spaces.js';
import { checkScratch, openScratch } from '../../src/ops/backup-restore.js';
import { parseManifest, MANIFEST } from '../../src/ops/backup-format.js';
import { localTarget } from '../../src/ops/backup-target.js';
import { StrataError } from '../../src/errors.js';
import { flipByte } from './sqlite-damage-helpers.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'strata-integrity-worker-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const inline = (file: string): string[] | { error: true } => {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return db.prepare('PRAGMA integrity_check').pluck().all() as string[];
    } finally {
      db.close();
    }
  } catch {
    return { error: true };
  }
};
const inWorker = async (file: string): Promise<string[] | { error: true }> =>
  integrityCheckInWorker(file).messages.catch(() => ({ error: true as const }));

/** A closed store of 3,000 records, half with an expiry (so the expiry index has pages). */
async function storeFile(name: string): Promise<string> {
  const file = join(root, name);
  const store = await openStore({ url: `sqlite:${file}`, durability: 'normal', sweepInterval: false });
  const kv = store.kv('items');
  const far = 4_000_000_000_000;
  for (let i = 0; i < 3_000; i += 500) {
    await kv.setMany(
      Array.from(
        { length: 500 },
        (_, j) => [`k${String(i + j).padStart(5, '0')}`, { n: i + j, pad: 'x'.repeat(80) }] as [string, unknown],
      ),
    );
  }
  for (let i = 0; i < 3_000; i += 2)
    await kv.set(`k${String(i).padStart(5, '0')}`, { n: i, pad: 'y'.repeat(80) }, { ttl: far - Date.now() });
  await store.close();
  return file;
}

/** The first page of the expiry index of kv namespace `items`. */
function indexPage(file: string): { offset: number; size: number } {
  const db = new Database(file, { readonly: true });
  try {
    const size = db.pragma('page_size', { simple: true }) as number;
    const page = db
      .prepare('SELECT min(pageno) FROM dbstat WHERE name = ?')
      .pluck()
      .get(`${tableName('kv.items')}_expiry`) as number;
    return { offset: (page - 1) * size, size };
  } finally {
    db.close();
  }
}

/** Points the expiry index at another column in the schema: SQLite then reports rows missing from it (rows, not a throw). */
function misindex(file: string): void {
  const db = new Database(file);
  try {
    db.unsafeMode(true);
    db.pragma('writable_schema = ON');
    db.prepare("UPDATE sqlite_schema SET sql = replace(sql, '(expires_at)', '(updated_at)') WHERE name = ?").run(
      `${tableName('kv.items')}_expiry`,
    );
  } finally {
    db.close();
  }
}

describe('integrity_check on a worker thread', () => {
  it('answers what the inline check answers: sound, damaged at 40 offsets, and not a database', async () => {
    const file = await storeFile('diff.db');
    expect(await inWorker(file)).toEqual(['ok']);
    const { size } = indexPage(file);
    const bytes = readFileSync(file).length;
    const copy = join(root, 'diff-copy.db');
    let damaged = 0;
    for (let i = 0; i < 40; i++) {
      copyFileSync(file, copy);
      const offset = size + Math.floor((((i * 7919) % 1000) / 1000) * (bytes - size));
      flipByte(copy, offset, 0x5a);
      const expected = inline(copy);
      if (!Array.isArray(expected) || expected[0] !== 'ok') damaged++;
      expect(await inWorker(copy), `offset ${offset}`).toEqual(expected);
    }
    expect(damaged, 'some flips must be seen by integrity_check').toBeGreaterThan(0);
    writeFileSync(copy, 'not a database at all, but long enough to have a header...'.repeat(200));
    expect(await inWorker(copy)).toEqual({ error: true });
  });

  it.each(['a damaged index page', 'an index that disagrees with its table'])(
    'a backup holding %s gets the same CORRUPT verdict checked inline or in parallel',
    async (damage) => {
      const file = await storeFile(`live-${damage.length}.db`);
      if (damage === 'a damaged index page') {
        const { offset, size } = indexPage(file);
        flipByte(file, offset + size - 40, 0x5a); // inside the index's cell content
      } else misindex(file);
      expect(inline(file)).not.toEqual(['ok']);
      const dir = join(root, `backups-${damage.length}`);
      const store = await openStore({ url: `sqlite:${file}`, durability: 'normal', sweepInterval: false });
      try {
        const { id } = await store.backup({ to: dir });
        const target = localTarget(dir);
        const manifest = parseManifest(readFileSync(join(dir, id, MANIFEST), 'utf8'), id);
        const verdicts: string[] = [];
        for (const parallelCheckBytes of [0, Number.POSITIVE_INFINITY]) {
          const scratch = await openScratch(store, target, manifest);
          try {
            const error = await checkScratch(scratch, { parallelCheckBytes }).then(
              () => null,
              (e: unknown) => e,
            );
            expect(error).toBeInstanceOf(StrataError);
            expect((error as StrataError).code).toBe('CORRUPT');
            verdicts.push((error as StrataError).message);
          } finally {
            await scratch.dispose();
          }
        }
        expect(verdicts[0]).toBe(verdicts[1]);
        expect(verdicts[0]).toMatch(
          damage === 'a damaged index page' ? /integrity check|cannot be read/ : /fails the integrity check \(/,
        );
      } finally {
        await store.close();
      }
    },
  );

  it('a sound backup verifies in parallel with every record counted', async () => {
    const file = await storeFile('sound.db');
    const dir = join(root, 'sound-backups');
    const store = await openStore({ url: `sqlite:${file}`, durability: 'normal', sweepInterval: false });
    try {
      const { id } = await store.backup({ to: dir });
      const manifest = parseManifest(readFileSync(join(dir, id, MANIFEST), 'utf8'), id);
      const scratch = await openScratch(store, localTarget(dir), manifest);
      try {
        const report = await checkScratch(scratch, { parallelCheckBytes: 0 });
        expect(report).toMatchObject({ ok: true, issues: [] });
        expect(report.checked).toBeGreaterThanOrEqual(3_000);
      } finally {
        await scratch.dispose();
      }
    } finally {
      await store.close();
    }
  });
});
