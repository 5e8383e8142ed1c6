import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { errorCode, requireBuild, strata } from './helpers.js';

// Defects found by an audit of the `strata` CLI, each case as the audit ran it.

let dir: string;
beforeEach(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'strata-audit-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => strata(args, { cwd: dir });

/** Every file under `path` (or `path` itself) with the SHA-256 of its bytes. */
function fingerprint(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (p: string, name: string): void => {
    if (statSync(p).isDirectory()) for (const entry of readdirSync(p)) visit(join(p, entry), `${name}/${entry}`);
    else out[name] = createHash('sha256').update(readFileSync(p)).digest('hex');
  };
  for (const entry of readdirSync(path)) visit(join(path, entry), entry);
  return out;
}

describe('a refused `set` leaves the store byte for byte as it was', () => {
  // README: "A failed write leaves the store exactly as it was." A refused `set -c` on a new
  // collection declared it (key field "id", in meta.collections) and made its space; a refused
  // kv `set` on a new namespace made an empty space.
  const refusals = [
    {
      name: '--patch of a missing document',
      args: ['set', '-c', 'deployments', 'd1', '{"status":"success"}', '--patch'],
      code: 3,
    },
    {
      name: '--patch --if-version 3 of a missing document',
      args: ['set', '-c', 'deployments', 'd1', '{"status":"success"}', '--patch', '--if-version', '3'],
      code: 3,
    },
    { name: 'a document whose key field differs', args: ['set', '-c', 'deployments', 'r1', '{"id":"other"}'], code: 2 },
    { name: 'a document with a __proto__ field', args: ['set', '-c', 'deployments', 'r1', '{"a":{"__proto__":1}}'], code: 2 },
    { name: 'kv --if-version 3 on a new namespace', args: ['set', 'fresh', 'k', '1', '--if-version', '3'], code: 4 },
    { name: 'a kv value with a __proto__ field on a new namespace', args: ['set', 'fresh', 'k', '{"__proto__":1}'], code: 2 },
  ];

  for (const scheme of ['sqlite', 'file'] as const) {
    it.each(refusals)(`${scheme}: $name`, ({ args, code }) => {
      const url = `${scheme}:${join(dir, scheme === 'sqlite' ? 'a.db' : 'store')}`;
      expect(run('--url', url, 'set', 'app', 'x', '1').code).toBe(0);
      const before = fingerprint(dir);
      const r = run('--url', url, ...args);
      expect(r.code, r.stderr).toBe(code);
      expect(fingerprint(dir)).toEqual(before);
      // Nothing remembered either: the collection can still be declared with its own key field.
      const declared = run('--url', url, 'set', '-c', 'deployments', 'd1', '{"status":"x"}', '--key-field', 'recordId');
      expect(declared.code, declared.stderr).toBe(0);
      expect(run('--url', url, '--json', 'get', '-c', 'deployments', 'd1').stdout).toBe('{"status":"x","recordId":"d1"}\n');
    });

    it(`${scheme}: a refused --patch where there was no store leaves no store`, () => {
      const location = join(dir, 'new', scheme === 'sqlite' ? 's.db' : 'store');
      const r = run('--url', `${scheme}:${location}`, 'set', '-c', 'c', 'r1', '{"a":1}', '--patch');
      expect(r.code, r.stderr).toBe(3);
      expect(existsSync(join(dir, 'new'))).toBe(false);
    });
  }

  it('a collection with documents but no remembered key field: a refused --patch --key-field remembers nothing', async () => {
    const url = `sqlite:${join(dir, 'a.db')}`;
    // Written by a handle declared without options: the store does not remember its key field.
    const store = await openStore({ url });
    await store.collection('x').set('a', { n: 1 });
    await store.close();
    const before = fingerprint(dir);
    const r = run('--url', url, 'set', '-c', 'x', 'a', '{"n":2}', '--patch', '--if-version', '2', '--key-field', 'id');
    expect(r.code, r.stderr).toBe(4);
    expect(fingerprint(dir)).toEqual(before);
    const ok = run('--url', url, 'set', '-c', 'x', 'a', '{"n":2}', '--patch', '--if-version', '1', '--key-field', 'id');
    expect(ok.code, ok.stderr).toBe(0);
    expect(errorCode(ok)).toBeUndefined();
  });
});

describe('a refused `strata demo` leaves nothing behind', () => {
  // README: "An existing file that is not a store is CORRUPT, left as it was." The demo made its
  // keyring demo.keys beside the store before opening it, and left it there when the open failed.
  it('a text file named as the store: CORRUPT, and no demo.keys', () => {
    writeFileSync(join(dir, 'notes.db'), 'not a database\n');
    const r = run('--url', 'sqlite:notes.db', 'demo', '--records', '5');
    expect(r.code, r.stderr).toBe(5);
    expect(readdirSync(dir)).toEqual(['notes.db']);
  });

  it('a truncated store: CORRUPT, and no demo.keys', () => {
    expect(run('--url', 'sqlite:s.db', 'set', 'app', 'k', '1').code).toBe(0);
    truncateSync(join(dir, 's.db'), 3000);
    const r = run('--url', 'sqlite:s.db', 'demo', '--records', '5');
    expect(r.code, r.stderr).toBe(5);
    expect(readdirSync(dir)).toEqual(['s.db']);
  });

  it('a new store whose URL has a bad parameter: BAD_INPUT, and neither demo.keys nor its directory', () => {
    const r = run('--url', 'sqlite:sub/dir/x.db?mmap=zz', 'demo', '--records', '5');
    expect(r.code, r.stderr).toBe(2);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a demo that ran keeps the keyring it made', () => {
    const r = run('--url', 'sqlite:s.db', '-q', 'demo', '--records', '5');
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir)).toContain('demo.keys');
  });
});

describe('a bad URL parameter value is a usage error for reads of a store that does not exist', () => {
  // README: "A `--url` that is malformed or names the wrong kind of file exits 2 ... whatever
  // the command." Writes said BAD_INPUT; reads said "no store at" (NOT_FOUND, exit 3).
  it.each([
    'sqlite:n.db?mmap=zz',
    'sqlite:n.db?durability=off',
    'sqlite:n.db?busyTimeout=abc',
    'sqlite:n.db?recover=yes',
    'file:nf?lockTimeout=x',
    'file:nf?durability=off',
  ])('%s', (url) => {
    for (const args of [['get', 'app', 'k'], ['list'], ['query', 'd']]) {
      const r = run('--url', url, ...args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(errorCode(r)).toBe('BAD_INPUT');
    }
    expect(run('--url', url, 'migrate', 'create', 'x', '--dir', 'm').code).toBe(2);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('good parameter values still say there is no store', () => {
    for (const url of [
      'sqlite:n.db?mmap=1GiB&recover=wal&durability=normal&busyTimeout=5s',
      'file:nf?lockTimeout=0&durability=full',
    ]) {
      const r = run('--url', url, 'get', 'app', 'k');
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/^error NOT_FOUND: no store at /);
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('an empty declared collection is still a collection', () => {
  // After its last document was deleted, `query --count` and `list -c` said "no collection"
  // (exit 3), while `set -c` still refused --key-field id: the store remembers it keyed by tid.
  const url = () => `sqlite:${join(dir, 's.db')}`;
  const emptied = {
    del: () => run('--url', url(), 'del', '-c', 'tasks', 't1'),
    prune: () => run('--url', url(), 'prune', '-c', 'tasks', '--older-than', '1d', '--field', 'at'),
  };
  it.each(['del', 'prune'] as const)('emptied by %s', (how) => {
    expect(run('--url', url(), 'set', '-c', 'tasks', 't1', '{"at":"2000-01-01T00:00:00.000Z"}', '--key-field', 'tid').code).toBe(
      0,
    );
    const r = emptied[how]();
    expect(r.code, r.stderr).toBe(0);
    const count = run('--url', url(), 'query', 'tasks', '{}', '--count');
    expect([count.code, count.stdout, count.stderr]).toEqual([0, '0\n', '']);
    const list = run('--url', url(), 'list', '-c', 'tasks');
    expect([list.code, list.stdout, list.stderr]).toEqual([0, '', '']);
    expect(run('--url', url(), '--json', 'query', 'tasks').stdout).toBe('[]\n');
    expect(run('--url', url(), 'get', '-c', 'tasks', 't1').code).toBe(3);
    // A name that was never a collection is still NOT_FOUND.
    expect(run('--url', url(), 'query', 'nosuch', '{}', '--count').code).toBe(3);
    expect(run('--url', url(), 'set', '-c', 'tasks', 't2', '{"a":1}').code).toBe(0);
    expect(run('--url', url(), '--json', 'get', '-c', 'tasks', 't2').stdout).toBe('{"a":1,"tid":"t2"}\n');
  });
});

describe('integer options', () => {
  // `query --limit 0` printed "no documents match" though documents matched (list refuses it);
  // a number past 2^53 - 1 was refused as not "an integer >= 1".
  it('query --limit 0 is refused as list --limit 0 is, with a hint', () => {
    const url = `sqlite:${join(dir, 's.db')}`;
    for (const n of [1, 2, 3]) expect(run('--url', url, 'set', '-c', 'd', `r${n}`, `{"n":${n}}`).code).toBe(0);
    for (const args of [
      ['query', 'd', '--limit', '0'],
      ['list', '-c', 'd', '--limit', '0'],
    ]) {
      const r = run('--url', url, ...args);
      expect([r.code, r.stdout], r.stderr).toEqual([2, '']);
      expect(r.stderr).toBe(
        'error BAD_INPUT: --limit must be a whole number from 1 to 9007199254740991, got "0"\n' +
          'hint: give a whole number from 1 to 9007199254740991 in decimal digits, e.g. --limit 10\n',
      );
    }
    expect(run('--url', url, 'query', 'd', '--limit', '1', '--offset', '0', '--count').stdout).toBe('3\n');
  });

  it.each([
    { args: ['list', '-c', 'd', '--limit'], range: 'from 1 to 9007199254740991' },
    { args: ['query', 'd', '--offset'], range: 'from 0 to 9007199254740991' },
    { args: ['set', 'app', 'k', '1', '--if-version'], range: 'from 0 to 9007199254740991' },
    { args: ['del', 'app', 'k', '--if-version'], range: 'from 1 to 9007199254740991' },
    { args: ['backup', 'prune', '--keep'], range: 'from 1 to 9007199254740991' },
    { args: ['rotate-keys', '--batch-size'], range: 'from 1 to 9007199254740991' },
    { args: ['demo', '--records'], range: 'from 1 to 1000000' },
  ])('$args.0 $args.1: 2^53 is refused with the range taken, $range', ({ args, range }) => {
    const r = run('--url', `sqlite:${join(dir, 's.db')}`, ...args, '9007199254740992');
    expect(r.code, r.stderr).toBe(2);
    const option = args[args.length - 1]!;
    expect(r.stderr).toMatch(
      new RegExp(
        `^error BAD_INPUT: ${option} must be a whole number ${range}, got "9007199254740992"\\nhint: give a whole number ${range} in decimal digits, e\\.g\\. ${option} \\d+\\n$`,
      ),
    );
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('strata help', () => {
  // `help nosuch` exited 2 with the general help and no error line; `help backup create` showed
  // backup's help.
  it('of an unknown command: error BAD_INPUT with a hint, exit 2, nothing on stdout', () => {
    const r = run('help', 'nosuch');
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toMatch(/^error BAD_INPUT: unknown command "nosuch"\nhint: commands: get, set, .*; see `strata --help`\n$/);
    const sub = run('help', 'backup', 'nosuch');
    expect([sub.code, sub.stdout]).toEqual([2, '']);
    expect(sub.stderr).toBe(
      'error BAD_INPUT: unknown command "nosuch" of strata backup\n' +
        'hint: commands: create, list, verify, prune, restore; see `strata backup --help`\n',
    );
  });

  it('of a subcommand: that subcommand help, as --help prints it', () => {
    for (const path of [['backup', 'create'], ['migrate', 'create'], ['get'], ['ls'], []]) {
      const r = run('help', ...path);
      expect([r.code, r.stderr], path.join(' ')).toEqual([0, '']);
      expect(r.stdout).toBe(run(...path, '--help').stdout);
    }
    expect(run('help', 'backup', 'create').stdout).toMatch(/^Usage: strata backup create /);
  });
});

describe('--quiet quiets restore', () => {
  // `strata -q restore <id>` still printed "restored backup ...", where set, import and migrate
  // print nothing under -q.
  it('restore and backup restore print nothing under -q; a dry run still reports', () => {
    const env = { STRATA_URL: `sqlite:${join(dir, 's.db')}` };
    const cli = (...args: string[]) => strata(args, { cwd: dir, env });
    expect(cli('set', 'app', 'k', '1').code).toBe(0);
    const id = cli('-q', 'backup', 'create').stdout.trim();
    expect(id).not.toBe('');
    for (const args of [
      ['-q', 'restore', id],
      ['backup', 'restore', id, '--quiet'],
      ['-q', 'set', 'app', 'k', '2'],
    ]) {
      const r = cli(...args);
      expect([r.code, r.stdout, r.stderr], args.join(' ')).toEqual([0, '', '']);
    }
    expect(cli('restore', id).stdout).toMatch(/^restored backup /);
    expect(cli('-q', 'restore', id, '--dry-run').stdout).toMatch(/^would restore backup /);
  });
});

describe('--json with another output format is refused', () => {
  // README: "`--json` prints one JSON document". `stats --prometheus --json` printed Prometheus
  // text and `query --json --jsonl` one line per document.
  it.each([
    { args: ['stats', '--prometheus', '--json'], options: ['--json', '--prometheus'] },
    { args: ['--json', 'stats', '--prometheus'], options: ['--json', '--prometheus'] },
    { args: ['query', 'd', '--json', '--jsonl'], options: ['--json', '--jsonl'] },
  ])('$args', ({ args, options }) => {
    const url = `sqlite:${join(dir, 's.db')}`;
    expect(run('--url', url, 'set', '-c', 'd', 'r1', '{"n":1}').code).toBe(0);
    const r = run('--url', url, ...args);
    expect([r.code, r.stdout], r.stderr).toEqual([2, '']);
    expect(errorCode(r)).toBe('BAD_INPUT');
    const hint = /^hint: (.*)$/m.exec(r.stderr)?.[1] ?? '';
    for (const option of options) expect(hint).toContain(option);
    // Each alone still works.
    for (const option of options) {
      const alone = args.filter((a) => !options.includes(a) || a === option);
      expect(run('--url', url, ...alone).code, alone.join(' ')).toBe(0);
    }
  });
});

describe('export progress and result agree', () => {
  // Export's last progress line said "exporting 4 of 4 records" while its result said "exported 5
  // records": the file holds 5 (3 documents, 1 kv value and the collection's declaration, which
  // the progress did not count), as its trailer and `strata import` of it say.
  it('the last progress line counts the records the file holds', () => {
    const env = { STRATA_URL: `sqlite:${join(dir, 's.db')}` };
    const cli = (...args: string[]) => strata(args, { cwd: dir, env });
    for (const n of [1, 2, 3]) expect(cli('set', '-c', 'd', `r${n}`, `{"n":${n}}`).code).toBe(0);
    expect(cli('set', 'app', 'k', '1').code).toBe(0);
    const r = cli('export', join(dir, 'e.strata'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('exporting 5 of 5 records\n');
    expect(r.stdout).toMatch(/^exported 5 records \(2 namespaces and collections, values stored\) to /);
    const imported = strata(['--url', `sqlite:${join(dir, 'i.db')}`, 'import', join(dir, 'e.strata')], { cwd: dir });
    expect(imported.stdout).toBe(`imported 5 records (merge) from ${join(dir, 'e.strata')}\n`);
    expect(imported.stderr.split('\n').at(-2)).toBe('importing 5 of 5 records');
  });
});

describe('hints name what applies', () => {
  // `set -c ... --ttl` said collections expire documents "with their own ttl option", which
  // the CLI does not have: it is store.collection(name, { ttl }), in code.
  it('set -c --ttl: the ttl is declared in code, and set -c applies a remembered one', async () => {
    const url = `sqlite:${join(dir, 's.db')}`;
    const r = run('--url', url, 'set', '-c', 'd', 'r9', '{"n":9}', '--ttl', '1h');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'error BAD_INPUT: --ttl applies to kv keys only\n' +
        "hint: documents expire by their collection's ttl, declared in code with store.collection(name, { ttl: '1h' }) " +
        '(the CLI has no option for it); once the store remembers it, set -c applies it\n',
    );
    const store = await openStore({ url, sweepInterval: false });
    await store.collection('sessions', { ttl: '1h' }).set('a', { n: 1 });
    await store.close();
    const set = run('--url', url, '--json', 'set', '-c', 'sessions', 'b', '{"n":2}');
    expect(set.code, set.stderr).toBe(0);
    expect((JSON.parse(set.stdout) as { expiresAt: string | null }).expiresAt).not.toBeNull();
  });
});
