import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requireBuild, strata } from './helpers.js';

// CLI promises about what read / dry-run / any command does to the file system and
// which exit code it gives for a bad --url.

let dir: string;
beforeEach(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'strata-probe-cli-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});
const run = (...args: string[]) => strata(args, { cwd: dir });

describe('read commands never create a store', () => {
  // README.md:1110 "Read commands never create a store: pointing one at a path that does not
  // exist exits 3."
  it('`strata list` on a file: URL naming an existing directory that holds no store writes no store files into it', () => {
    const docs = join(dir, 'Documents');
    mkdirSync(docs);
    writeFileSync(join(docs, 'notes.txt'), 'mine\n');
    const before = readdirSync(docs).sort();
    const r = run('--url', `file:${docs}`, 'list');
    // Whatever it reports, a read must leave the directory as it was (no journal.log, no lock files).
    expect(readdirSync(docs).sort(), `exit ${r.code}, stderr ${r.stderr}`).toEqual(before);
  });
});

describe('restore --dry-run changes nothing', () => {
  // README.md:521 "await store.restore(b.id, { dryRun: true });   // checks the backup, reports, changes nothing"
  // src/cli/commands/restore.ts:11 "--dry-run  check the backup and report; change nothing"
  it('`strata restore <id> --dry-run` on a store that does not exist creates no store file', () => {
    const db = join(dir, 'data', 'app.db');
    const r = run('--url', `sqlite:${db}`, 'restore', 'no-such-backup', '--dry-run');
    expect(r.code).not.toBe(0);
    expect(existsSync(db), `a dry run created ${db} (exit ${r.code}: ${r.stderr.trim()})`).toBe(false);
  });
});

describe('a malformed --url exits 2 whatever the command', () => {
  // README.md:1110-1112 "A `--url` that is malformed or names the wrong kind of file exits 2,
  // a damaged store 5, whatever the command."
  it('`strata --url bogus:x migrate create m1` exits 2', () => {
    const r = run('--url', 'bogus:x', 'migrate', 'create', 'm1', '--dir', join(dir, 'migrations'));
    expect(r.code, `stdout ${r.stdout} stderr ${r.stderr}`).toBe(2);
  });
});
