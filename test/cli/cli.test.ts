import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Runs the built CLI (`npm test` builds first) as a user would, in a temp directory.
const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'dist/cli/main.js');

let dir: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Spawns `strata ...args`; fails the test unless the process exits by itself within 30 s. */
function strata(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  if (options.env?.STRATA_URL === undefined) delete env.STRATA_URL;
  delete env.STRATA_DEBUG;
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: options.cwd ?? dir, env, encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw result.error;
  expect(result.signal, `strata ${args.join(' ')} did not exit by itself`).toBeNull();
  return { code: result.status!, stdout: result.stdout, stderr: result.stderr };
}

const json = (run: Run): unknown => JSON.parse(run.stdout) as unknown;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does)`);
  dir = mkdtempSync(join(tmpdir(), 'strata-cli-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('strata kv commands', () => {
  const url = () => `sqlite:${join(dir, 'kv.db')}`;

  it('set / get / del round trip', () => {
    expect(strata(['--url', url(), 'set', 'app', 'theme', '"dark"']).code).toBe(0);
    const got = strata(['--url', url(), 'get', 'app', 'theme']);
    expect(got).toMatchObject({ code: 0, stdout: 'dark\n' });
    expect(strata(['--url', url(), 'set', 'app', 'settings', '{"autoMerge":true,"repos":["a","b"]}']).code).toBe(0);
    expect(json(strata(['get', 'app', 'settings', '--json', '--url', url()]))).toEqual({ autoMerge: true, repos: ['a', 'b'] });
    const del = strata(['--url', url(), 'del', 'app', 'theme']);
    expect(del.code).toBe(0);
    const after = strata(['--url', url(), 'get', 'app', 'theme']);
    expect(after.code).toBe(3);
  });

  it('--json output parses and carries versions', () => {
    const first = json(strata(['--url', url(), '--json', 'set', 'app', 'counter', '1']));
    expect(first).toMatchObject({ key: 'counter', version: 1, expiresAt: null });
    const second = json(strata(['--url', url(), '--json', 'set', 'app', 'counter', '2', '--if-version', '1']));
    expect(second).toMatchObject({ version: 2 });
    const entry = json(strata(['--url', url(), 'get', 'app', 'counter', '--json', '--entry'])) as Record<string, unknown>;
    expect(entry).toMatchObject({ key: 'counter', value: 2, version: 2 });
    expect(json(strata(['--url', url(), 'list', 'app', '--json']))).toEqual(expect.arrayContaining(['counter', 'settings']));
  });

  it('a missing key exits 3 with nothing on stdout and no stack trace', () => {
    const run = strata(['--url', url(), 'get', 'app', 'no-such-key']);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error NOT_FOUND: /);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(strata(['--url', url(), 'get', 'no-such-namespace', 'k']).code).toBe(3);
    expect(strata(['--url', url(), 'del', 'app', 'no-such-key']).code).toBe(3);
    expect(strata(['--url', url(), 'del', 'app', 'no-such-key', '--force']).code).toBe(0);
  });

  it('a stale --if-version exits 4 (CONFLICT)', () => {
    const run = strata(['--url', url(), 'set', 'app', 'counter', '9', '--if-version', '1']);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/error CONFLICT/);
  });

  it('values are JSON unless --string; --ttl sets an expiry', () => {
    const bare = strata(['--url', url(), 'set', 'auth', 'accessToken', 'gho_abc']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/BAD_INPUT/);
    expect(strata(['--url', url(), 'set', 'auth', 'accessToken', 'gho_abc', '--string', '--ttl', '10m']).code).toBe(0);
    const entry = json(strata(['--url', url(), 'get', 'auth', 'accessToken', '--entry', '--json'])) as Record<string, unknown>;
    expect(entry.value).toBe('gho_abc');
    expect(Date.parse(entry.expiresAt as string)).toBeGreaterThan(Date.now());
    expect(strata(['--url', url(), 'set', 'auth', 'x', '1', '--ttl', 'soon']).code).toBe(2);
  });

  it('honours STRATA_URL, and --debug adds the stack trace', () => {
    const env = { STRATA_URL: url() };
    expect(strata(['set', 'env', 'k', '42'], { env }).code).toBe(0);
    expect(strata(['--url', url(), 'get', 'env', 'k']).stdout).toBe('42\n');
    const debug = strata(['get', 'env', 'missing', '--debug'], { env });
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('defaults to the embedded store .strata/strata.db in the working directory', () => {
    const cwd = mkdtempSync(join(dir, 'default-'));
    expect(strata(['set', 'app', 'k', 'true'], { cwd }).code).toBe(0);
    expect(existsSync(join(cwd, '.strata/strata.db'))).toBe(true);
    expect(strata(['get', 'app', 'k'], { cwd }).stdout).toBe('true\n');
  });
});

describe('strata usage errors', () => {
  it('unknown commands and options exit 2 with usage', () => {
    const command = strata(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/unknown command/);
    const option = strata(['get', 'app', 'k', '--nope']);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/unknown option/);
    expect(strata([]).code).toBe(2);
  });

  it('--help exits 0 and documents the exit codes', () => {
    const help = strata(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:/);
    expect(help.stdout).toMatch(/3\s+NOT_FOUND/);
  });

  it('an unknown store URL is BAD_INPUT; a read of a store that does not exist is NOT_FOUND and creates nothing', () => {
    expect(strata(['--url', 'nosuch:x', 'stats']).code).toBe(2);
    const missing = join(dir, 'never.db');
    expect(strata(['--url', `sqlite:${missing}`, 'stats']).code).toBe(3);
    expect(existsSync(missing)).toBe(false);
  });
});

describe('strata demo, list, query, stats, verify', () => {
  const url = () => `sqlite:${join(dir, 's.db')}`;
  let first: Record<string, unknown>;

  beforeAll(() => {
    const run = strata(['--url', url(), 'demo', '--records', '300', '--json']);
    expect(run.code, run.stderr).toBe(0);
    first = json(run) as Record<string, unknown>;
  });

  it('demo stores tokens, settings and deduplicated deployments', () => {
    expect(first).toMatchObject({ run: 1, records: 300, cleared: 0 });
    expect(first.duplicatesWritten).toBeGreaterThan(20);
    expect(first.duplicatesRemoved).toBe(first.duplicatesWritten);
    expect(first.remaining).toBe(300 - (first.duplicatesRemoved as number));
    // The tokens are encrypted: readable with the demo's keyring file, DECRYPT_FAILED (exit 5) without it.
    const tokens = first.tokens as { namespace: string; accessTokenKey: string; keyring: { source: string; path: string } };
    expect(tokens).toMatchObject({ namespace: 'auth.tokens', keyring: { source: 'demo-file', path: 'demo.keys' } });
    const read = ['get', tokens.namespace, tokens.accessTokenKey, '--entry', '--json'];
    const auth = json(strata(['--url', url(), '--keys-file', tokens.keyring.path, ...read])) as Record<string, unknown>;
    expect(auth.expiresAt).not.toBeNull();
    expect((auth.value as { token: string }).token).toMatch(/^gho_/);
    expect(strata(['--url', url(), ...read]).code).toBe(5);
  });

  it('list shows every namespace and collection with counts', () => {
    const human = strata(['--url', url(), 'list']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/collection\s+deployments\s+[\d,]+/);
    const listed = json(strata(['--url', url(), 'list', '--json'])) as {
      kv: Array<{ name: string }>;
      collections: Array<{ name: string; records: number }>;
    };
    expect(listed.kv.map((k) => k.name)).toEqual(expect.arrayContaining(['app', 'auth.tokens']));
    expect(listed.collections).toContainEqual(expect.objectContaining({ name: 'deployments', records: first.remaining }));
  });

  it('list -c pages through document keys', () => {
    const page = json(strata(['--url', url(), 'list', '-c', 'deployments', '--limit', '3', '--json'])) as string[];
    expect(page).toHaveLength(3);
    const next = json(
      strata(['--url', url(), 'list', '-c', 'deployments', '--limit', '3', '--after', page[2]!, '--json']),
    ) as string[];
    expect(next[0]! > page[2]!).toBe(true);
    const doc = json(strata(['--url', url(), 'get', '-c', 'deployments', page[0]!, '--json'])) as Record<string, unknown>;
    expect(doc.recordId).toBe(page[0]);
  });

  it('query filters, sorts, limits, counts and prints a table', () => {
    const failed = json(
      strata(['--url', url(), 'query', 'deployments', '{"status":"failed"}', '--limit', '5', '--json']),
    ) as Array<Record<string, unknown>>;
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThanOrEqual(5);
    for (const doc of failed) expect(doc.status).toBe('failed');
    const sorted = json(
      strata(['--url', url(), 'query', 'deployments', '--sort', 'createdAt:desc', '--limit', '10', '--json']),
    ) as Array<{ createdAt: string }>;
    const times = sorted.map((d) => d.createdAt);
    expect(times).toEqual([...times].sort().reverse());
    const sortedJson = json(
      strata(['--url', url(), 'query', 'deployments', '{}', '--sort', '{"createdAt":-1}', '--limit', '10', '--json']),
    );
    expect(sortedJson).toEqual(sorted);
    const count = strata(['--url', url(), 'query', 'deployments', '{"status":{"$in":["success","failed"]}}', '--count']);
    expect(Number(count.stdout)).toBeGreaterThan(0);
    const table = strata(['--url', url(), 'query', 'deployments', '{"status":"failed"}', '--limit', '5']);
    expect(table.stdout).toMatch(/repoName/);
    expect(table.stdout.trim().split('\n')).toHaveLength(failed.length + 2);
  });

  it('a malformed filter or an unknown operator exits 2 with BAD_INPUT', () => {
    const malformed = strata(['--url', url(), 'query', 'deployments', '{"status":']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/error BAD_INPUT/);
    const operator = strata(['--url', url(), 'query', 'deployments', '{"status":{"$regex":"fail"}}']);
    expect(operator.code).toBe(2);
    expect(operator.stderr).toMatch(/error BAD_INPUT/);
    expect(strata(['--url', url(), 'query', 'deployments', '--sort', 'createdAt:sideways']).code).toBe(2);
    expect(strata(['--url', url(), 'query', 'deployments', '--limit', 'many']).code).toBe(2);
    expect(strata(['--url', url(), 'query', 'no-such-collection']).code).toBe(3);
  });

  it('stats reports records, bytes and the location', () => {
    const human = strata(['--url', url(), 'stats']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/location\s+\S*s\.db/);
    expect(human.stdout).toMatch(/\d (B|KiB|MiB)/);
    const stats = json(strata(['--url', url(), 'stats', '--json'])) as Record<string, unknown>;
    expect(stats.driver).toBe('sqlite');
    expect(stats.storageBytes).toBeGreaterThan(0);
  });

  it('demo runs again on the same store and says what it replaced', () => {
    const again = json(strata(['--url', url(), 'demo', '--records', '300', '--json'])) as Record<string, unknown>;
    expect(again).toMatchObject({ run: 2, cleared: first.remaining, remaining: first.remaining });
    const human = strata(['--url', url(), 'demo', '--records', '300']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/run #3/);
    expect(human.stdout).toMatch(/removed the [\d,]+ left by the previous run/);
  });

  it('verify exits 0 on a good store and 5 on a garbled file', () => {
    // The demo's tokens are encrypted: verify opens every ciphertext, so it needs the demo keyring.
    const good = strata(['--url', url(), '--keys-file', 'demo.keys', 'verify']);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/^ok/);
    // Not a terminal: progress as plain lines on stderr (each tenth), both phases, ending at 100%.
    expect(good.stderr).toMatch(/^checking: 100% \([\d,]+ of [\d,]+, [\d.]+ s\)$/m);
    expect(good.stderr).toMatch(/^decrypting: 100% /m);
    expect(good.stderr).not.toContain(String.fromCharCode(27)); // no terminal control sequences
    const quiet = strata(['--url', url(), '--keys-file', 'demo.keys', 'verify', '--json']);
    expect(quiet.stderr).toBe('');
    const garbled = join(dir, 'garbled.db');
    writeFileSync(garbled, randomBytes(16_384));
    const bad = strata(['--url', `sqlite:${garbled}`, 'verify']);
    expect(bad.code).toBe(5);
    expect(bad.stdout).toMatch(/CORRUPT/);
    const report = json(strata(['--url', `sqlite:${garbled}`, 'verify', '--json'])) as { ok: boolean };
    expect(report.ok).toBe(false);
    const read = strata(['--url', `sqlite:${garbled}`, 'get', 'app', 'k']);
    expect(read.code).toBe(5);
    expect(read.stderr).toMatch(/^error CORRUPT/);
  });
});

describe('strata on the file driver', () => {
  it('demo, list, query and verify work on file:', () => {
    const url = `file:${join(dir, 'files')}`;
    expect(strata(['--url', url, 'demo', '--records', '300', '--quiet']).code).toBe(0);
    const listed = json(strata(['--url', url, 'list', '--json'])) as { collections: Array<{ name: string; records: number }> };
    expect(listed.collections.find((c) => c.name === 'deployments')?.records).toBeGreaterThan(200);
    expect(Number(strata(['--url', url, 'query', 'deployments', '{"status":"failed"}', '--count']).stdout)).toBeGreaterThan(0);
    expect(strata(['--url', url, 'set', 'app', 'theme', '"dark"']).code).toBe(0);
    expect(strata(['--url', url, 'get', 'app', 'theme']).stdout).toBe('dark\n');
    expect(strata(['--url', url, '--keys-file', 'demo.keys', 'verify']).code).toBe(0);
  });
});
