// A SQLite file that is not a Strata store (another application's database, or one with no
// tables at all) is CORRUPT at open and left byte for byte as it was: it was adopted before,
// Strata's tables added to it (even by a read command of the CLI).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { StrataError } from '../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'strata-foreign-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const CLI = join(import.meta.dirname, '../../dist/cli/main.js');
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

function foreign(name: string, journal: 'delete' | 'wal', ddl: string): string {
  const path = join(root, name);
  const db = new Database(path);
  db.pragma(`journal_mode = ${journal}`);
  if (ddl) db.exec(ddl);
  db.close();
  return path;
}

describe('a SQLite file that is not a store', () => {
  const cases: Array<[string, 'delete' | 'wal', string]> = [
    [
      'another app, rollback journal',
      'delete',
      'CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)',
    ],
    ['another app, WAL', 'wal', 'CREATE TABLE notes (body TEXT); CREATE INDEX notes_body ON notes (body)'],
    ['no tables at all', 'wal', ''],
  ];
  for (const [what, journal, ddl] of cases) {
    it(`${what}: CORRUPT at open, for the API and the CLI, the file unchanged`, async () => {
      const path = foreign(`${what.replace(/\W+/g, '-')}.db`, journal, ddl);
      const before = sha(path);
      const files = readdirSync(root).sort();
      for (const durability of ['full', 'normal'] as const) {
        const error = await openStore({ url: `sqlite:${path}`, durability }).then(
          async (store) => {
            await store.close();
            return null;
          },
          (e: unknown) => e,
        );
        expect(StrataError.is(error, 'CORRUPT'), String(error)).toBe(true);
        expect((error as StrataError).message).toContain('not a Strata store');
        expect(sha(path)).toBe(before);
      }
      for (const args of [['get', 'app', 'k'], ['set', 'app', 'k', '1'], ['list']]) {
        let status = 0;
        try {
          execFileSync(process.execPath, [CLI, '--url', `sqlite:${path}`, ...args], { stdio: 'pipe' });
        } catch (error) {
          status = (error as { status: number }).status;
        }
        expect(status, args.join(' ')).toBe(5);
        expect(sha(path)).toBe(before);
      }
      expect(readdirSync(root).sort()).toEqual(files);
      const db = new Database(path, { readonly: true });
      expect(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'strata%'").pluck().get()).toBe(0);
      db.close();
    });
  }
});
