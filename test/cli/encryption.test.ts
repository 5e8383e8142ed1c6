import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { rawDriver } from '../../src/testing/encryption-suite.js';
import { requireBuild, strata } from './helpers.js';

// The CLI reads the keyring from STRATA_KEYS or --keys-file, decrypts what it prints,
// rotates keys, and reports tampering found by verify with exit code 5.
const K1 = `k1:${Buffer.alloc(32, 11).toString('base64')}`;
const K2 = `k2:${Buffer.alloc(32, 12).toString('base64')}`;

describe('strata with an encrypted store', () => {
  let dir: string;
  let url: string;
  beforeAll(async () => {
    requireBuild();
    dir = mkdtempSync(join(tmpdir(), 'strata-cli-enc-'));
    url = `sqlite:${join(dir, 'app.db')}`;
    const store = await openStore({ url, encryption: { keys: K1, integrity: 'mac' } });
    await store.kv('auth', { encrypt: true }).set('accessToken', 'tok-secret-1');
    await store.collection('users', { encrypt: [{ path: 'email', lookup: true }] }).insert({ id: 'u1', email: 'a@x.io' });
    await store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decrypts with STRATA_KEYS or --keys-file, and refuses without the keyring', () => {
    const withEnv = strata(['--url', url, 'get', 'auth', 'accessToken'], { cwd: dir, env: { STRATA_KEYS: K1 } });
    expect(withEnv.code).toBe(0);
    expect(withEnv.stdout.trim()).toBe('tok-secret-1');
    const file = join(dir, 'keys');
    writeFileSync(file, K1, { mode: 0o600 });
    const withFile = strata(['--url', url, '--keys-file', file, 'query', 'users', '{"email":"a@x.io"}', '--json'], { cwd: dir });
    expect(withFile.code).toBe(0);
    expect(withFile.stdout).toContain('a@x.io');
    const none = strata(['--url', url, 'get', 'auth', 'accessToken'], { cwd: dir });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('STRATA_KEYS');
    expect(none.stdout + none.stderr).not.toContain('tok-secret-1');
    const write = strata(['--url', url, 'set', 'auth', 'accessToken', '"replaced in plain text"'], { cwd: dir });
    expect(write.code).not.toBe(0);
    expect(strata(['--url', url, 'get', 'auth', 'accessToken'], { cwd: dir, env: { STRATA_KEYS: K1 } }).stdout.trim()).toBe(
      'tok-secret-1',
    );
    const loose = join(dir, 'loose-keys');
    writeFileSync(loose, K1, { mode: 0o644 });
    const refused = strata(['--url', url, '--keys-file', loose, 'get', 'auth', 'accessToken'], { cwd: dir });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('chmod 600');
  });

  it('rotate-keys re-encrypts under the new key and retires the old one', () => {
    const run = strata(['--url', url, 'rotate-keys', '--json'], { cwd: dir, env: { STRATA_KEYS: `${K2},${K1}` } });
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { keysInUse: Record<string, number>; retired: string[] };
    expect(Object.keys(report.keysInUse)).toEqual(['k2']);
    expect(report.retired).toEqual(['k1']);
    const after = strata(['--url', url, 'get', 'auth', 'accessToken'], { cwd: dir, env: { STRATA_KEYS: K2 } });
    expect(after.stdout.trim()).toBe('tok-secret-1');
    const human = strata(['--url', url, 'rotate-keys'], { cwd: dir, env: { STRATA_KEYS: K2 } });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('keys in use: k2');
    const noKeys = strata(['--url', url, 'rotate-keys'], { cwd: dir });
    expect(noKeys.code).not.toBe(0);
  });

  it('verify reports a tampered record as INTEGRITY and exits 5', async () => {
    const store = await openStore({ url, encryption: { keys: K2 } });
    const raw = rawDriver(store);
    const record = (await raw.get('c.users', 'u1', Date.now()))!;
    await raw.batch([{ type: 'put', space: 'c.users', key: 'u2', value: record.value, expiresAt: null }], Date.now());
    await store.close();
    const run = strata(['--url', url, 'verify'], { cwd: dir, env: { STRATA_KEYS: K2 } });
    expect(run.code).toBe(5);
    expect(run.stdout).toContain('INTEGRITY');
    expect(run.stdout).toContain('u2');
  });
});
