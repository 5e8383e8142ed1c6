import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openStore, type Store } from '../../src/store.js';
import { contentHash, rawDump } from '../../src/testing/transfer-suite.js';
import type { TransferProgress } from '../../src/ops/transfer/context.js';
import { readExport } from '../../src/ops/transfer/validate.js';
import { requireBuild, strata } from '../cli/helpers.js';
import { expectCode } from '../conformance/index.js';

const root = mkdtempSync(join(tmpdir(), 'strata-transfer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const dir = join(root, `d${++n}`);
  mkdirSync(dir);
  return dir;
};

const KEY_1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const KEY_2 = `k2:${Buffer.alloc(32, 2).toString('base64')}`;
const SECRET = 'canary-secret-5e1d';

function lines(file: string): string[] {
  return gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter(Boolean);
}

async function encryptedSource(dir: string, integrity: 'checksum' | 'mac' = 'checksum'): Promise<Store> {
  const store = await openStore({
    url: `sqlite:${join(dir, 'src.db')}`,
    encryption: { keys: KEY_1, integrity },
    sweepInterval: false,
  });
  await store.kv('auth', { encrypt: true }).set('token', SECRET);
  const users = store.collection('users', { encrypt: [{ path: 'email', lookup: true }], indexes: ['email'] });
  await users.insert({ id: 'u1', email: `${SECRET}@x.io`, name: 'Ana' });
  await store.kv('plain').set('a', 1);
  return store;
}

describe('encrypted values', () => {
  it('stay ciphertext in the export and open in another store with the same keyring', async () => {
    for (const integrity of ['checksum', 'mac'] as const) {
      const dir = fresh();
      const source = await encryptedSource(dir, integrity);
      const file = join(dir, `enc-${integrity}.strata`);
      const report = await source.export(file);
      expect(report.values).toBe('stored');
      expect(gunzipSync(readFileSync(file)).toString('utf8')).not.toContain(SECRET);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const hash = await contentHash(source, Date.now());
      // Another store (its own store id, so its own ciphertexts), the same key and one more.
      const target = await openStore({
        url: `file:${join(dir, `t-${integrity}`)}`,
        encryption: { keys: `${KEY_2},${KEY_1}` },
        sweepInterval: false,
      });
      await target.import(file);
      expect(await target.kv('auth').get('token')).toBe(SECRET);
      expect((await target.collection('users').query({ email: `${SECRET}@x.io` })).map((u) => u.id)).toEqual(['u1']);
      expect(await contentHash(target, Date.now())).not.toBe(''); // versions and values equal:
      expect(await contentHash(target, Date.now())).toBe(hash);
      // Re-encrypted for the target under its primary key: still no plain text in what it stores.
      expect(await rawDump(target, Date.now())).not.toContain(SECRET);
      await target.close();
      // Reopened, the target still knows which spaces are encrypted.
      const again = await openStore({
        url: `file:${join(dir, `t-${integrity}`)}`,
        encryption: { keys: `${KEY_2},${KEY_1}` },
        sweepInterval: false,
      });
      expect(await again.kv('auth').get('token')).toBe(SECRET);
      await again.close();
      await source.close();
    }
  });

  it('needs the keyring: without it or with another key the import is refused and nothing changes', async () => {
    const dir = fresh();
    const source = await encryptedSource(dir);
    const file = join(dir, 'enc.strata');
    await source.export(file);
    await source.close();
    const bare = await openStore({ url: `sqlite:${join(dir, 'bare.db')}`, sweepInterval: false });
    await bare.kv('x').set('y', 1);
    const before = await rawDump(bare, Date.now());
    await expectCode(bare.import(file), 'BAD_INPUT');
    expect(await rawDump(bare, Date.now())).toBe(before);
    await bare.close();
    const wrong = await openStore({ url: 'memory:', encryption: { keys: `k1:${Buffer.alloc(32, 9).toString('base64')}` } });
    await expectCode(wrong.import(file), 'DECRYPT_FAILED');
    expect((await wrong.names()).kv).toEqual([]);
    await wrong.close();
  });

  it('decrypt: true writes plain text, says so, and a target that declares the space encrypted encrypts it', async () => {
    const dir = fresh();
    const source = await encryptedSource(dir);
    const file = join(dir, 'plain.strata');
    const report = await source.export(file, { decrypt: true });
    expect(report.values).toBe('decrypted');
    expect(JSON.parse(lines(file)[0]!)).toMatchObject({ values: 'decrypted' });
    expect(gunzipSync(readFileSync(file)).toString('utf8')).toContain(SECRET);
    expect(report.spaces['meta.crypto']).toBeUndefined();
    await source.close();
    // No keyring: plain values stay plain.
    const bare = await openStore('memory:');
    await bare.import(file);
    expect(await bare.kv('auth').get('token')).toBe(SECRET);
    await bare.close();
    // The target declares kv "auth" encrypted: the imported plain value is stored encrypted.
    const target = await openStore({
      url: `sqlite:${join(dir, 'enc-target.db')}`,
      encryption: { keys: KEY_2 },
      sweepInterval: false,
    });
    target.kv('auth', { encrypt: true });
    await target.import(file);
    expect(await target.kv('auth').get('token')).toBe(SECRET);
    const raw = await rawDump(target, Date.now());
    expect(raw).toContain('kv.auth');
    expect(raw.split('\n').find((l) => l.includes('"kv.auth"'))).not.toContain(SECRET);
    await target.close();
    // The declaration is remembered with the data (nothing read it in that process): another process decrypts it.
    const url = `sqlite:${join(dir, 'enc-target-2.db')}`;
    const declaring = await openStore({ url, encryption: { keys: KEY_2 }, sweepInterval: false });
    declaring.kv('auth', { encrypt: true });
    await declaring.import(file);
    await declaring.close();
    const reopened = await openStore({ url, encryption: { keys: KEY_2 }, sweepInterval: false });
    expect(await reopened.kv('auth').get('token')).toBe(SECRET);
    const stored = (await rawDump(reopened, Date.now())).split('\n').find((l) => l.startsWith('["kv.auth"'));
    expect(stored).toBeDefined();
    expect(stored).not.toContain(SECRET);
    await reopened.close();
  });

  it('a target with record MACs signs what it imports; a space encrypted otherwise there is refused', async () => {
    const dir = fresh();
    const source = await encryptedSource(dir);
    const file = join(dir, 'enc.strata');
    await source.export(file);
    await source.close();
    const url = `sqlite:${join(dir, 'mac.db')}`;
    const signed = await openStore({ url, encryption: { keys: KEY_1, integrity: 'mac' }, sweepInterval: false });
    await signed.import(file);
    await signed.close();
    // Reopened: every record's MAC is checked on read.
    const again = await openStore({ url, encryption: { keys: KEY_1, integrity: 'mac' }, sweepInterval: false });
    expect(await again.kv('auth').get('token')).toBe(SECRET);
    expect(await again.kv('plain').get('a')).toBe(1);
    expect((await again.verify()).ok).toBe(true);
    await again.close();
    const other = await openStore({ url: 'memory:', encryption: { keys: KEY_1 } });
    other.collection('users', { encrypt: ['name'] });
    await expectCode(other.import(file), 'BAD_INPUT');
    await other.close();
  });

  it('plain values for a space the target keeps encrypted are refused when the target has no keyring', async () => {
    const dir = fresh();
    const source = await encryptedSource(dir);
    const file = join(dir, 'plain.strata');
    await source.export(file, { decrypt: true });
    await source.close();
    // The source store itself, opened without its keys: kv "auth" is remembered encrypted.
    const locked = await openStore({ url: `sqlite:${join(dir, 'src.db')}`, sweepInterval: false });
    const before = await rawDump(locked, Date.now());
    await expectCode(locked.import(file, { mode: 'replace' }), 'DECRYPT_FAILED');
    expect(await rawDump(locked, Date.now())).toBe(before);
    await locked.close();
  });

  it('decrypt: true without the keyring is BAD_INPUT', async () => {
    const dir = fresh();
    const source = await encryptedSource(dir);
    await source.close();
    const locked = await openStore({ url: `sqlite:${join(dir, 'src.db')}`, sweepInterval: false });
    await expectCode(locked.export(join(dir, 'x.strata'), { decrypt: true }), 'BAD_INPUT');
    await locked.close();
  });
});

describe('collections', () => {
  const Task = z.object({ id: z.string(), title: z.string(), done: z.boolean() });

  it('every document is checked against a schema declared in the importing process', async () => {
    const dir = fresh();
    const source = await openStore('memory:');
    await source.collection('tasks').insert({ id: 't1', title: 'ok', done: false });
    await source.collection('tasks').insert({ id: 't2', title: 'bad', done: 'no' });
    const file = join(dir, 'tasks.strata');
    await source.export(file);
    const target = await openStore('memory:');
    target.collection('tasks', { schema: Task });
    const error = await expectCode(target.import(file), 'VALIDATION_FAILED');
    expect(error.details).toMatchObject({ key: 't2' });
    expect((await target.names()).collections).toEqual([]);
    await target.close();
    await source.close();
  });

  it('a declaration that differs from the one made in this process is refused', async () => {
    const dir = fresh();
    const source = await openStore('memory:');
    await source.collection('tasks', { indexes: ['title'] }).insert({ id: 't1', title: 'x', done: true });
    const file = join(dir, 'spec.strata');
    await source.export(file);
    const target = await openStore('memory:');
    target.collection('tasks', { key: 'title' });
    await expectCode(target.import(file), 'BAD_INPUT');
    await target.close();
    await source.close();
  });

  it('a "constructor" key in a value is data: it round trips and pollutes nothing', async () => {
    const dir = fresh();
    const source = await openStore('memory:');
    await source.kv('odd').set('c', { constructor: { prototype: { polluted: true } }, prototype: 1 });
    const file = join(dir, 'ctor.strata');
    await source.export(file);
    const target = await openStore('memory:');
    await target.import(file);
    expect(await target.kv('odd').get('c')).toEqual({ constructor: { prototype: { polluted: true } }, prototype: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await target.close();
    await source.close();
  });
});

describe('bad input and progress', () => {
  it('refuses bad paths and options with stable codes', async () => {
    const dir = fresh();
    const store = await openStore('memory:');
    await expectCode(store.export(''), 'BAD_INPUT');
    await expectCode(store.export(42 as unknown as string), 'BAD_INPUT');
    await expectCode(store.export(join(dir, 'no', 'such', 'dir', 'x.strata')), 'NOT_FOUND');
    await expectCode(store.export(join(root, 'x.strata'), { decrypt: 'yes' as unknown as boolean }), 'BAD_INPUT');
    await expectCode(store.export(join(root, 'x.strata'), { onProgress: 1 as unknown as () => void }), 'BAD_INPUT');
    await expectCode(store.import(root), 'BAD_INPUT');
    await expectCode(store.import(join(root, 'nope.strata')), 'NOT_FOUND');
    await expectCode(store.import(''), 'BAD_INPUT');
    await store.close();
    await expectCode(store.export(join(root, 'x.strata')), 'CLOSED');
    await expectCode(store.import(join(root, 'x.strata')), 'CLOSED');
  });

  it('reports progress for both phases and writes a file the reader accepts', async () => {
    const dir = fresh();
    const store = await openStore({ url: `sqlite:${join(dir, 'p.db')}`, sweepInterval: false });
    await store
      .kv('many')
      .setMany(Array.from({ length: 12_000 }, (_, i) => [`k${String(i).padStart(6, '0')}`, { i }] as [string, unknown]));
    const seen: TransferProgress[] = [];
    const file = join(dir, 'p.strata');
    await store.export(file, { onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)).toEqual({ phase: 'write', records: 12_000, total: 12_000 });
    const it = readExport(file);
    let records = 0;
    for (;;) {
      const next = await it.next();
      if (next.done === true) {
        expect(next.value.records).toBe(12_000);
        break;
      }
      records += next.value.length;
    }
    expect(records).toBe(12_000);
    const target = await openStore('memory:');
    const phases: TransferProgress[] = [];
    const report = await target.import(file, { onProgress: (p) => phases.push(p) });
    expect(report).toMatchObject({ mode: 'merge', records: 12_000, values: 'stored' });
    expect(phases.some((p) => p.phase === 'validate' && p.total === null)).toBe(true);
    expect(phases.at(-1)).toEqual({ phase: 'write', records: 12_000, total: 12_000 });
    expect(await target.kv('many').count()).toBe(12_000);
    await target.close();
    await store.close();
  });

  it('records that expired since the export are not imported', async () => {
    const dir = fresh();
    let now = Date.UTC(2026, 0, 1);
    const source = await openStore({ url: 'memory:', clock: () => now, sweepInterval: false });
    await source.kv('t').set('short', 1, { ttl: '1m' });
    await source.kv('t').set('long', 2);
    const file = join(dir, 'ttl.strata');
    await source.export(file);
    now += 120_000;
    const target = await openStore({ url: 'memory:', clock: () => now, sweepInterval: false });
    const report = await target.import(file);
    expect(report.records).toBe(1);
    expect(await target.kv('t').get('short')).toBeNull();
    expect(await target.kv('t').get('long')).toBe(2);
    await target.close();
    await source.close();
  });

  it('an export taken while writers write is one consistent state', async () => {
    const dir = fresh();
    const store = await openStore({ url: `sqlite:${join(dir, 'busy.db')}`, sweepInterval: false });
    const accounts = store.kv<number>('accounts');
    await accounts.setMany(Array.from({ length: 20 }, (_, i) => [`a${i}`, 100] as [string, number]));
    let stop = false;
    let moves = 0;
    const writer = (async () => {
      // Each transaction moves 1 between two accounts: the sum stays 2,000 in every consistent state.
      for (let i = 0; !stop; i++) {
        // sqlite answers without I/O: yield so the export's file I/O can run too.
        await new Promise((r) => setImmediate(r));
        await store.transaction(async (tx) => {
          const from = tx.kv<number>('accounts');
          const a = `a${i % 20}`;
          const b = `a${(i * 7 + 3) % 20}`;
          if (a === b) return;
          await from.set(a, ((await from.get(a)) ?? 0) - 1);
          await from.set(b, ((await from.get(b)) ?? 0) + 1);
        });
        moves++;
      }
    })();
    const files: string[] = [];
    for (let i = 0; i < 5; i++) {
      const file = join(dir, `busy-${i}.strata`);
      await store.export(file);
      files.push(file);
    }
    stop = true;
    await writer;
    expect(moves).toBeGreaterThan(0);
    for (const file of files) {
      const copy = await openStore('memory:');
      await copy.import(file);
      let sum = 0;
      for await (const [, v] of copy.kv<number>('accounts').entries()) sum += v;
      expect(sum).toBe(2000);
      await copy.close();
    }
    await store.close();
  });

  it('a file changed between the check and the write writes nothing', async () => {
    const dir = fresh();
    const source = await openStore('memory:');
    await source.kv('a').set('x', 1);
    const file = join(dir, 'race.strata');
    await source.export(file);
    const good = readFileSync(file);
    const text = gunzipSync(good).toString('utf8');
    const target = await openStore('memory:');
    let calls = 0;
    // Swap the file for a damaged one as soon as the first pass ends (its last progress report).
    const promise = target.import(file, {
      onProgress: (p) => {
        if (p.phase === 'validate' && p.total !== null && calls++ === 0)
          writeFileSync(file, gzipSync(text.replace('"x"', '"y"')));
      },
    });
    await expectCode(promise, 'CORRUPT');
    expect((await target.names()).kv).toEqual([]);
    await target.close();
    await source.close();
  });
});

describe('strata export / import', () => {
  it('export and import through the CLI, --json and exit codes', async () => {
    requireBuild();
    const dir = fresh();
    const source = await openStore({ url: `sqlite:${join(dir, 'cli.db')}`, sweepInterval: false });
    await source.kv('app').set('theme', 'dark');
    await source.collection('tasks').insert({ id: 't1', title: 'x' });
    await source.close();
    const url = `sqlite:${join(dir, 'cli.db')}`;
    const out = strata(['--url', url, 'export', 'out.strata', '--json'], { cwd: dir });
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ records: 2, values: 'stored' });
    const human = strata(['--url', url, 'export', 'h.strata'], { cwd: dir });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('exported 2 records');
    const target = `file:${join(dir, 'target')}`;
    const imported = strata(['--url', target, 'import', 'out.strata', '--mode', 'replace', '--json'], { cwd: dir });
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ mode: 'replace', records: 2 });
    // Not a terminal: progress is plain lines on stderr (stdout stays the data).
    const plain = strata(['--url', target, 'import', 'out.strata'], { cwd: dir });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('imported 2 records (merge)');
    expect(plain.stderr).toContain('checking 2 of 2 records');
    expect(plain.stderr).toContain('importing 2 of 2 records');
    expect(plain.stderr).not.toContain('\u001b');
    const got = strata(['--url', target, 'get', 'app', 'theme'], { cwd: dir });
    expect(got.stdout.trim()).toContain('dark');
    writeFileSync(join(dir, 'bad.strata'), 'not gzip');
    const bad = strata(['--url', target, 'import', 'bad.strata'], { cwd: dir });
    expect(bad.code).toBe(5);
    expect(bad.stderr).toContain('CORRUPT');
    const missing = strata(['--url', target, 'import', 'missing.strata'], { cwd: dir });
    expect(missing.code).toBe(3);
    const mode = strata(['--url', target, 'import', 'out.strata', '--mode', 'overwrite'], { cwd: dir });
    expect(mode.code).toBe(2);
    const noStore = strata(['--url', `sqlite:${join(dir, 'none.db')}`, 'export', 'x.strata'], { cwd: dir });
    expect(noStore.code).toBe(3);
  });
});
