import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { requireBuild, strata } from './helpers.js';

// `strata verify` without the keyring on a store holding encrypted values. docs/encryption.md:
// "Opened without the keyring, verify checks the stored records' checksums only (ciphertexts
// cannot be opened without it)". From a hostile audit of the README (test/audit-readme/
// REPORT.md, "Noted"); failed before the fix: verify printed "ok: N records checked, no issues"
// and nothing else, as if every ciphertext had been opened, and --json had no field for what
// was left unopened.
const KEYS = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

describe.each(['sqlite', 'file'])('strata verify without the keyring (%s)', (driver) => {
  let dir: string;
  let url: string;
  let keysFile: string;
  beforeAll(async () => {
    requireBuild();
    dir = mkdtempSync(join(tmpdir(), 'strata-verify-nokeys-'));
    url = driver === 'sqlite' ? `sqlite:${join(dir, 'app.db')}` : `file:${join(dir, 'app')}`;
    keysFile = join(dir, 'keys');
    writeFileSync(keysFile, KEYS, { mode: 0o600 });
    const store = await openStore({ url, encryption: { keys: KEYS } });
    await store.kv('auth', { encrypt: true }).setMany([
      ['accessToken', 'tok-1'],
      ['refreshToken', 'tok-2'],
    ]);
    await store.kv('app').set('theme', 'dark');
    const users = store.collection('users', { encrypt: ['email'] });
    await users.insertMany([
      { id: 'u1', email: 'a@x.io' },
      { id: 'u2', email: 'b@x.io' },
      { id: 'u3', email: 'c@x.io' },
    ]);
    await store.collection('plain').insert({ id: 'p1' });
    // An encrypted namespace emptied again: nothing in it to open.
    const gone = store.kv('gone', { encrypt: true });
    await gone.set('x', 'y');
    await gone.delete('x');
    await store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says how many encrypted records it did not open, and where; exit 0 when nothing is damaged', () => {
    const run = strata(['--url', url, 'verify'], { cwd: dir });
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^ok: [\d,]+ records checked, no issues$/);
    expect(lines[1]).toBe(
      '5 encrypted record(s) not opened (kv auth: 2, collection users: 3): without the keyring their checksums were ' +
        'checked, not their ciphertexts; pass --keys-file <path> or set STRATA_KEYS to open them',
    );
    // No decryption phase ran.
    expect(run.stderr).not.toContain('decrypting');
  });

  it('--json has notOpened: the records and spaces not opened', () => {
    const run = strata(['--url', url, '--json', 'verify'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: true,
      issues: [],
      notOpened: {
        records: 5,
        spaces: [
          { kind: 'kv', name: 'auth', records: 2 },
          { kind: 'collection', name: 'users', records: 3 },
        ],
      },
    });
  });

  it('with the keyring every ciphertext is opened: notOpened is 0 and no line about it', () => {
    const human = strata(['--url', url, '--keys-file', keysFile, 'verify'], { cwd: dir });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ok: [\d,]+ records checked, no issues\n$/);
    expect(human.stderr).toContain('decrypting: 100%');
    const json = strata(['--url', url, '--json', 'verify'], { cwd: dir, env: { STRATA_KEYS: KEYS } });
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, notOpened: { records: 0, spaces: [] } });
  });

  it('a store without encrypted data: notOpened is 0', () => {
    const plainUrl = driver === 'sqlite' ? `sqlite:${join(dir, 'plain.db')}` : `file:${join(dir, 'plain')}`;
    expect(strata(['--url', plainUrl, 'set', 'app', 'k', '1'], { cwd: dir }).code).toBe(0);
    const run = strata(['--url', plainUrl, 'verify'], { cwd: dir });
    expect(run.stdout).toMatch(/^ok: [\d,]+ records checked, no issues\n$/);
    const json = strata(['--url', plainUrl, '--json', 'verify'], { cwd: dir });
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, notOpened: { records: 0, spaces: [] } });
  });
});
