import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store.js';
import { StrataError } from '../../src/errors.js';
import { contentHash, rawDump } from '../../src/testing/transfer-suite.js';
import { requireBuild, strata } from '../cli/helpers.js';

/**
 * What export and import promise beyond damaged files: expiry in merge and replace, the
 * declarations a target learns, what an export of an encrypted store holds (canary scan),
 * paths that are the store's own files, and the CLI's exit codes for each refusal.
 */

const root = mkdtempSync(join(tmpdir(), 'strata-transfer-sem-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const dir = join(root, `d${++n}`);
  mkdirSync(dir);
  return dir;
};
const BACKENDS = ['memory', 'sqlite', 'file'] as const;
const urlOf = (backend: (typeof BACKENDS)[number], dir: string, name = 'store'): string =>
  backend === 'memory' ? 'memory:' : backend === 'sqlite' ? `sqlite:${join(dir, `${name}.db`)}` : `file:${join(dir, name)}`;

const KEY_1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const KEY_9 = `k1:${Buffer.alloc(32, 9).toString('base64')}`;

async function refusal(promise: Promise<unknown>): Promise<StrataError> {
  const error = await promise.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StrataError);
  return error as StrataError;
}

describe('expiry', () => {
  it.each(BACKENDS)(
    '%s: an expired record of the file is not imported; merge keeps the target one, replace drops it',
    async (backend) => {
      const dir = fresh();
      let now = Date.UTC(2026, 0, 1);
      const clock = (): number => now;
      const source = await openStore({ url: 'memory:', clock, sweepInterval: false });
      await source.kv('t').set('short', 'file', { ttl: '1m' });
      await source.kv('t').set('edge', 'file', { ttl: 120_000 }); // expires exactly at the import
      await source.kv('t').set('later', 'file', { ttl: '1h' });
      await source.kv('t').set('forever', 'file');
      const file = join(dir, 'ttl.strata');
      await source.export(file);
      const laterAt = (await source.kv('t').getEntry('later'))!.expiresAt;
      await source.close();
      now += 120_000;
      for (const mode of ['merge', 'replace'] as const) {
        const target = await openStore({ url: urlOf(backend, dir, mode), clock, sweepInterval: false });
        await target.kv('t').set('short', 'target');
        await target.kv('t').set('edge', 'target');
        const report = await target.import(file, { mode });
        expect(report.records).toBe(2);
        const kept = mode === 'merge' ? 'target' : null;
        expect(await target.kv('t').get('short'), mode).toBe(kept);
        expect(await target.kv('t').get('edge'), mode).toBe(kept);
        expect(await target.kv('t').get('later')).toBe('file');
        expect((await target.kv('t').getEntry('later'))!.expiresAt).toEqual(laterAt);
        expect(await target.kv('t').get('forever')).toBe('file');
        // The imported expiry is live: the record goes when its time comes.
        now += 3_600_000;
        expect(await target.kv('t').get('later')).toBeNull();
        now -= 3_600_000;
        await target.close();
      }
    },
  );
});

describe('declarations', () => {
  it.each(['sqlite', 'file'] as const)(
    '%s: replace into a store that remembers other indexes: the file declaration wins and queries answer',
    async (backend) => {
      const dir = fresh();
      const source = await openStore('memory:');
      const items = source.collection('items', { indexes: ['color'], ttl: '1d' });
      for (let i = 0; i < 50; i++) await items.insert({ id: `i${i}`, color: i % 2 === 0 ? 'red' : 'blue', size: i });
      const file = join(dir, 'items.strata');
      await source.export(file);
      await source.close();
      const url = urlOf(backend, dir);
      const first = await openStore({ url, sweepInterval: false });
      await first.collection('items', { indexes: ['size'] }).insert({ id: 'old', size: 1, color: 'red' });
      await first.close();
      const target = await openStore({ url, sweepInterval: false });
      // merge would mix documents under two declarations: refused, nothing changed.
      const before = await rawDump(target, Date.now());
      expect((await refusal(target.import(file))).code).toBe('BAD_INPUT');
      expect(await rawDump(target, Date.now())).toBe(before);
      await target.import(file, { mode: 'replace' });
      expect(await target.describe('items')).toMatchObject({ key: 'id', indexes: ['color'], ttl: 86_400_000 });
      const red = await target.collection('items').query({ color: 'red' });
      expect(red.map((d) => d.id).sort()).toEqual(Array.from({ length: 25 }, (_, i) => `i${i * 2}`).sort());
      expect(await target.collection('items').query({ size: 1 })).toEqual([{ id: 'i1', color: 'blue', size: 1 }]);
      await target.close();
      // Another process opening it later knows the declaration too.
      const again = await openStore({ url, sweepInterval: false });
      expect(await again.describe('items')).toMatchObject({ indexes: ['color'] });
      expect(await again.collection('items').count({ color: 'blue' })).toBe(25);
      await again.close();
    },
  );

  it('merge into a store with the same declaration: the index covers both sides', async () => {
    const dir = fresh();
    const source = await openStore('memory:');
    await source.collection('items', { indexes: ['color'] }).insert({ id: 'a', color: 'red' });
    const file = join(dir, 'm.strata');
    await source.export(file);
    await source.close();
    const target = await openStore({ url: urlOf('sqlite', dir), sweepInterval: false });
    await target.collection('items', { indexes: ['color'] }).insert({ id: 'b', color: 'red' });
    await target.import(file);
    expect((await target.collection('items').query({ color: 'red' })).map((d) => d.id)).toEqual(['a', 'b']);
    await target.close();
  });
});

describe('an export of an encrypted store', () => {
  const CANARIES = ['canary-kv-7f3a', 'canary-obj-91bc', 'canary-field-44d2', 'canary-lookup-0e6f'];

  async function encrypted(dir: string): Promise<{ url: string; file: string; plain: string; hash: string }> {
    const url = `sqlite:${join(dir, 'enc.db')}`;
    const store = await openStore({ url, encryption: { keys: KEY_1, integrity: 'mac' }, sweepInterval: false });
    await store.kv('auth', { encrypt: true }).set('token', CANARIES[0]);
    await store.kv('auth').set('profile', { deep: { secret: CANARIES[1] }, n: 42 });
    const users = store.collection('users', {
      encrypt: ['profile.phone', { path: 'email', lookup: true }],
      indexes: ['email', 'name'],
    });
    await users.insert({ id: 'u1', name: 'Ana', email: CANARIES[3], profile: { phone: CANARIES[2], city: 'Lyon' } });
    await store.kv('public').set('key-in-clear', 'visible');
    const file = join(dir, 'enc.strata');
    const plain = join(dir, 'plain.strata');
    const hash = await contentHash(store, Date.now());
    expect((await store.export(file)).values).toBe('stored');
    expect((await store.export(plain, { decrypt: true })).values).toBe('decrypted');
    await store.close();
    return { url, file, plain, hash };
  }

  it('holds no plaintext canary by default; decrypt: true holds them all and says so', async () => {
    const dir = fresh();
    const { file, plain, hash } = await encrypted(dir);
    const stored = gunzipSync(readFileSync(file)).toString('utf8');
    for (const canary of CANARIES) expect(stored, canary).not.toContain(canary);
    // Keys, plain namespaces and plain fields are in clear, as the docs say.
    expect(stored).toContain('"token"');
    expect(stored).toContain('key-in-clear');
    expect(stored).toContain('Lyon');
    expect(stored).not.toMatch(/"key":"[A-Za-z0-9+/=]{40,}"/); // no key material
    const open = gunzipSync(readFileSync(plain)).toString('utf8');
    for (const canary of CANARIES) expect(open, canary).toContain(canary);
    expect(JSON.parse(open.split('\n')[0]!)).toMatchObject({ values: 'decrypted' });
    expect(open).not.toContain('"meta.crypto"');
    // The stored form opens in another store with the keyring, the plain one in any store.
    const withKeys = await openStore({ url: 'memory:', encryption: { keys: KEY_1 } });
    await withKeys.import(file);
    expect(await contentHash(withKeys, Date.now())).toBe(hash);
    expect((await withKeys.collection('users').query({ email: CANARIES[3] })).map((u) => u.id)).toEqual(['u1']);
    for (const canary of CANARIES) expect(await rawDump(withKeys, Date.now()), canary).not.toContain(canary);
    await withKeys.close();
    const bare = await openStore('memory:');
    await bare.import(plain);
    expect(await contentHash(bare, Date.now())).toBe(hash);
    await bare.close();
  });

  it('without the keyring or with another key: refused, the target unchanged', async () => {
    const dir = fresh();
    const { file } = await encrypted(dir);
    for (const [options, code] of [
      [{}, 'BAD_INPUT'],
      [{ encryption: { keys: KEY_9 } }, 'DECRYPT_FAILED'],
    ] as const) {
      const target = await openStore({ url: `sqlite:${join(dir, `t-${code}.db`)}`, sweepInterval: false, ...options });
      await target.kv('mine').set('a', 1);
      const before = await rawDump(target, Date.now());
      for (const mode of ['merge', 'replace'] as const) {
        expect((await refusal(target.import(file, { mode }))).code).toBe(code);
        expect(await rawDump(target, Date.now())).toBe(before);
      }
      await target.close();
    }
  });

  it('through the CLI: no plain text unless --decrypt; exit 2 without keys, 5 with another key', async () => {
    requireBuild();
    const dir = fresh();
    const { url } = await encrypted(dir);
    const keys = { STRATA_KEYS: KEY_1 };
    const out = strata(['--url', url, 'export', 'cli.strata', '--json'], { cwd: dir, env: keys });
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ values: 'stored' });
    const text = gunzipSync(readFileSync(join(dir, 'cli.strata'))).toString('utf8');
    for (const canary of CANARIES) expect(text).not.toContain(canary);
    const target = `sqlite:${join(dir, 'cli-target.db')}`;
    const none = strata(['--url', target, 'import', 'cli.strata'], { cwd: dir });
    expect(none.code, none.stderr).toBe(2);
    expect(none.stdout).toBe('');
    const other = `sqlite:${join(dir, 'cli-other.db')}`;
    const wrong = strata(['--url', other, 'import', 'cli.strata', '--json'], { cwd: dir, env: { STRATA_KEYS: KEY_9 } });
    expect(wrong.code, wrong.stderr).toBe(5);
    expect(wrong.stderr).toContain('DECRYPT_FAILED');
    expect(wrong.stdout).toBe('');
    const ok = strata(['--url', target, 'import', 'cli.strata', '--json'], { cwd: dir, env: keys });
    expect(ok.code, ok.stderr).toBe(0);
    expect(strata(['--url', target, 'get', 'auth', 'token'], { cwd: dir, env: keys }).stdout.trim()).toBe(CANARIES[0]);
    const noKeys = strata(['--url', url, 'export', 'x.strata', '--decrypt'], { cwd: dir });
    expect(noKeys.code).toBe(2);
    expect(readdirSync(dir).filter((f) => f.startsWith('x.strata') || f.startsWith('.x.strata'))).toEqual([]);
  });
});

describe("the store's own files", () => {
  it.each(['sqlite', 'file'] as const)('%s: an export path that is the store is refused, the store intact', async (backend) => {
    const dir = fresh();
    const url = urlOf(backend, dir);
    const store = await openStore({ url, sweepInterval: false });
    await store.kv('a').set('x', 1);
    await store.collection('c').insert({ id: 'd' });
    const before = await contentHash(store, Date.now());
    const link = join(dir, 'link');
    symlinkSync(dir, link);
    const paths =
      backend === 'sqlite'
        ? [join(dir, 'store.db'), join(dir, 'store.db-wal'), join(dir, 'store.db-shm'), join(link, 'store.db')]
        : [
            join(dir, 'store', 'journal.log'),
            join(dir, 'store', 'kv.b.json'),
            join(dir, 'store'),
            join(link, 'store', 'x.strata'),
          ];
    for (const path of paths) {
      const error = await refusal(store.export(path));
      expect(error.code, path).toBe('BAD_INPUT');
      expect(error.message).toContain('nothing was written');
    }
    // Next to the store is fine.
    await store.export(join(dir, 'next-to-it.strata'));
    expect(await contentHash(store, Date.now())).toBe(before);
    await store.close();
    const again = await openStore({ url, sweepInterval: false });
    expect(await contentHash(again, Date.now())).toBe(before);
    expect((await again.verify()).ok).toBe(true);
    await again.close();
  });
});

describe('strata export / import refusals', () => {
  it('exit codes: the store itself 2, "-" 2, a record too long 2, a key field that is not the key 2, damage 5', async () => {
    requireBuild();
    const dir = fresh();
    const url = `sqlite:${join(dir, 'app.db')}`;
    const store = await openStore({ url, sweepInterval: false });
    await store.kv('app').set('theme', 'dark');
    await store.close();
    const self = strata(['--url', url, 'export', 'app.db'], { cwd: dir });
    expect(self.code, self.stderr).toBe(2);
    expect(self.stderr).toContain("the store's own files");
    expect(strata(['--url', url, 'get', 'app', 'theme'], { cwd: dir }).stdout.trim()).toBe('dark');
    for (const command of ['export', 'import']) {
      const dash = strata(['--url', url, command, '-'], { cwd: dir });
      expect(dash.code, dash.stderr).toBe(2);
      expect(dash.stderr).toContain('"-" is not taken');
    }
    expect(readdirSync(dir)).not.toContain('-');
    // A record no import could read back.
    const big = await openStore({ url, sweepInterval: false });
    await big.kv('app').set('huge', 'x'.repeat(17 * 1024 * 1024));
    await big.close();
    const long = strata(['--url', url, 'export', 'big.strata', '--json'], { cwd: dir });
    expect(long.code, long.stderr).toBe(2);
    expect(long.stderr).toContain('UNSUPPORTED');
    expect(long.stdout).toBe('');
    expect(readdirSync(dir).filter((f) => f.includes('big.strata'))).toEqual([]);
    // A hand-made file whose document key field is not its key.
    const lines = [
      JSON.stringify({
        format: 'strata-export',
        version: 1,
        createdAt: new Date(0).toISOString(),
        source: { driver: 'x' },
        values: 'stored',
      }),
      '{"space":"c.tasks"}',
      '{"k":"t1","v":{"id":"t2"},"ver":1,"c":1,"u":1,"x":null}',
    ];
    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(`${lines[2]}\n`).digest('hex');
    lines.push(JSON.stringify({ end: true, records: 1, spaces: { 'c.tasks': { records: 1, sha256: sha } } }));
    const { gzipSync } = await import('node:zlib');
    writeFileSync(join(dir, 'keys.strata'), gzipSync(`${lines.join('\n')}\n`));
    const keys = strata(['--url', url, 'import', 'keys.strata'], { cwd: dir });
    expect(keys.code, keys.stderr).toBe(2);
    expect(keys.stderr).toContain('key field "id"');
    writeFileSync(join(dir, 'cut.strata'), readFileSync(join(dir, 'keys.strata')).subarray(0, 30));
    const cut = strata(['--url', url, 'import', 'cut.strata', '--json'], { cwd: dir });
    expect(cut.code).toBe(5);
    expect(cut.stdout).toBe('');
  }, 60_000);
});
