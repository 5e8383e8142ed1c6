// Hostile backups: a byte flipped at every offset of the manifest and at a dense sample of the
// part (every header and trailer byte), truncations at many lengths, manifests and record
// parts rewritten with a recomputed checksum (the checksum is plain sha256: anyone can make
// one), and what a restore that changes the encryption state leaves of the handle.
// Every refusal is CORRUPT and the live store keeps exactly its content.
import { cp, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentHash, sha, signed } from './backup-forge-helpers.js';
import { openStore, StrataError, type Store } from '../../src/index.js';
import { bottomDriver } from '../../src/ops/image.js';
import type { RawRecord } from '../../src/drivers/driver.js';

const KEYS = `k1:${Buffer.alloc(32, 3).toString('base64')}`;

/** The code a call fails with (a thunk, for calls that throw before returning a promise). */
async function codeOf(call: Promise<unknown> | (() => unknown)): Promise<string> {
  const promise = typeof call === 'function' ? Promise.resolve().then(call) : call;
  return promise.then(
    () => 'resolved',
    (e: unknown) => (e instanceof StrataError ? e.code : `not a StrataError: ${String(e)}`),
  );
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-backup-hostile-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const urlFor = (kind: string, name = 'app'): string =>
  kind === 'sqlite' ? `sqlite:${join(dir, `${name}.db`)}` : kind === 'file' ? `file:${join(dir, name)}` : 'memory:';

async function small(store: Store): Promise<void> {
  await store.kv<number>('counts').setMany(Array.from({ length: 12 }, (_, i) => [`k${i}`, i] as [string, number]));
  await store.collection('tasks').insert({ id: 't1', title: 'one' });
}

describe.each(['sqlite', 'file'])('every byte of a backup (%s)', (kind) => {
  it('a flip at every manifest offset, and at every header/trailer byte and a dense sample of the part, is CORRUPT', async () => {
    const store = await openStore({ url: urlFor(kind), sweepInterval: false });
    try {
      await small(store);
      const backup = await store.backup({ to: join(dir, 'backups') });
      await store.kv('counts').set('k0', 'changed since');
      const live = await contentHash(store);
      const to = join(dir, 'backups');
      const manifest = join(backup.path, 'manifest.json');
      const part = join(
        backup.path,
        (await readdir(backup.path)).find((n) => n.endsWith('.gz'))!,
      );
      const refused = async (what: string): Promise<void> => {
        expect(await codeOf(store.backups.verify(backup.id, { dir: to })), `verify, ${what}`).toBe('CORRUPT');
        expect(await codeOf(store.restore(backup.id, { dir: to })), `restore, ${what}`).toBe('CORRUPT');
      };
      for (const file of [manifest, part]) {
        const original = await readFile(file);
        const offsets: number[] = [];
        for (let i = 0; i < original.length; i++) {
          const edge = i < 48 || i >= original.length - 48;
          if (file === manifest || edge || i % 13 === 0) offsets.push(i);
        }
        for (const offset of offsets) {
          for (const mask of [0x01, 0x20]) {
            const flipped = Buffer.from(original);
            flipped[offset]! ^= mask;
            await writeFile(file, flipped);
            await refused(`${file === manifest ? 'manifest' : 'part'} byte ${offset} ^ ${mask}`);
          }
        }
        for (let length = 0; length < original.length; length += Math.max(1, Math.floor(original.length / 40))) {
          await writeFile(file, original.subarray(0, length));
          await refused(`${file === manifest ? 'manifest' : 'part'} truncated to ${length}`);
        }
        await writeFile(file, original.subarray(0, original.length - 1));
        await refused('last byte cut');
        await writeFile(file, Buffer.concat([original, Buffer.from(' ')]));
        await refused('a byte appended');
        await writeFile(file, original);
      }
      // A flipped manifest is listed as damaged, never as a backup.
      const original = await readFile(manifest);
      const flipped = Buffer.from(original);
      flipped[3]! ^= 0x20;
      await writeFile(manifest, flipped);
      expect((await store.backups.list({ dir: to }))[0]).toMatchObject({ id: backup.id, damaged: true });
      await writeFile(manifest, original);
      expect(await contentHash(store)).toBe(live);
      expect((await store.backups.verify(backup.id, { dir: to })).ok).toBe(true);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('a manifest rewritten with a matching checksum', () => {
  it('is CORRUPT when any field is not what Strata writes: prototype keys, huge or odd numbers, wrong types, paths', async () => {
    const store = await openStore({ url: urlFor('sqlite'), sweepInterval: false });
    try {
      await small(store);
      const to = join(dir, 'backups');
      const backup = await store.backup({ to });
      const path = join(backup.path, 'manifest.json');
      const text = await readFile(path, 'utf8');
      const m = JSON.parse(text) as Record<string, unknown>;
      const part = (m.parts as Array<Record<string, unknown>>)[0]!;
      const live = await contentHash(store);
      const cases: Record<string, string> = {
        'whitespace changed': text.replace('\n  "id"', '\n \t"id"'),
        'a tab instead of a space': text.replace('"id": ', '"id":\t'),
        'CRLF line ends': text.replaceAll('\n', '\r\n'),
        '__proto__ at the top': signed(m).replace('{', '{\n  "__proto__": { "polluted": 1 },'),
        '__proto__ in spaces': signed(m).replace('"spaces": {', '"spaces": {\n    "__proto__": { "polluted": 1 },'),
        'constructor.prototype': signed({ ...m, constructor: { prototype: { polluted: 1 } } }).replace(
          '"checksum"',
          '"x": 1,\n  "checksum"',
        ),
        'at huge (1e400)': signed(m).replace(/"at": \d+/, '"at": 1e400'),
        'at negative': signed({ ...m, at: -1 }),
        'at a fraction': signed({ ...m, at: (m.at as number) + 0.5 }),
        'at not the time of the id': signed({ ...m, at: (m.at as number) + 1 }),
        'createdAt not at': signed({ ...m, createdAt: '2001-01-01T00:00:00.000Z' }),
        'records not the sum of spaces': signed({ ...m, records: (m.records as number) + 1 }),
        'records huge': signed({ ...m, records: 2 ** 60 }),
        'a count negative': signed({ ...m, spaces: { ...(m.spaces as object), 'kv.counts': -1 } }),
        'spaces an array': signed({ ...m, spaces: [] }),
        'spaces null': signed({ ...m, spaces: null }),
        'a space named ../../x': signed({ ...m, spaces: { ...(m.spaces as object), '../../x': 0 } }),
        'a space named with unicode': signed({ ...m, spaces: { ...(m.spaces as object), 'kv.ünï': 0 } }),
        'driver with control characters': signed({ ...m, driver: 'sqlite\u001b[2J' }),
        'driver a number': signed({ ...m, driver: 7 }),
        'kind unknown': signed({ ...m, kind: 'tarball' }),
        'part named ..': signed({ ...m, parts: [{ ...part, name: '..' }] }),
        'part named ../../x.gz': signed({ ...m, parts: [{ ...part, name: '../../x.gz' }] }),
        'part named manifest.json': signed({ ...m, parts: [{ ...part, name: 'manifest.json' }] }),
        'part of the other kind': signed({ ...m, parts: [{ ...part, name: 'records.ndjson.gz' }] }),
        'part bytes negative': signed({ ...m, parts: [{ ...part, bytes: -5 }] }),
        'part bytes a string': signed({ ...m, parts: [{ ...part, bytes: String(part.bytes) }] }),
        'parts empty': signed({ ...m, parts: [] }),
        'two parts': signed({ ...m, parts: [part, part] }),
        'journalSeq huge': signed({ ...m, journalSeq: 1e300 }),
        'id of another backup': signed({ ...m, id: '20200101T000000000Z-abcdef' }),
        'format an object': signed({ ...m, format: { toString: 1 } }),
        'not an object': signed({ ...m }).replace(/^\{[\s\S]*\}\n$/, '[1, 2]\n'),
      };
      for (const [what, hostile] of Object.entries(cases)) {
        await writeFile(path, hostile);
        expect(await codeOf(store.backups.verify(backup.id, { dir: to })), `verify: ${what}`).toBe('CORRUPT');
        expect(await codeOf(store.restore(backup.id, { dir: to })), `restore: ${what}`).toBe('CORRUPT');
        expect(await codeOf(store.restore(backup.id, { dir: to, dryRun: true })), `dry run: ${what}`).toBe('CORRUPT');
        const listed = await store.backups.list({ dir: to });
        expect(listed, what).toHaveLength(1);
        expect(listed[0], what).toMatchObject({ id: backup.id, damaged: true });
        expect(({} as Record<string, unknown>).polluted, what).toBeUndefined();
      }
      // The message of an unparsable manifest speaks of the backup, not of an export.
      await writeFile(path, '{ not json');
      const error = await store.backups.verify(backup.id, { dir: to }).catch((e: StrataError) => e);
      expect(error).toMatchObject({ code: 'CORRUPT' });
      expect((error as StrataError).message).toMatch(/backup .* is damaged.*nothing was changed/);
      expect((error as StrataError).hint).toContain('strata backup list');
      await writeFile(path, text);
      expect(await contentHash(store)).toBe(live);
      expect((await store.backups.verify(backup.id, { dir: to })).ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe.each(['sqlite', 'file', 'memory'])('a records part rewritten with matching checksums (into %s)', (kind) => {
  it('is CORRUPT when a line is not a record, a key comes twice, or the lines differ from the manifest', async () => {
    const source = await openStore({ url: urlFor('file', 'source'), sweepInterval: false });
    const store = await openStore({ url: urlFor(kind), sweepInterval: false });
    try {
      await source.kv('a').set('x', 1);
      const to = join(dir, 'backups');
      const backup = await source.backup({ to });
      await store.kv('live').set('k', 'v');
      const live = await contentHash(store);
      const manifestPath = join(backup.path, 'manifest.json');
      const partPath = join(backup.path, 'records.ndjson.gz');
      const m = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
      const first = gunzipSync(await readFile(partPath))
        .toString()
        .split('\n')[0]!;
      const record = JSON.parse(first) as Record<string, unknown>;
      const line = (fields: Record<string, unknown>): string => JSON.stringify({ ...record, ...fields });
      const write = async (raw: string, spaces: Record<string, number>): Promise<void> => {
        const packed = gzipSync(raw);
        await writeFile(partPath, packed);
        const part = {
          name: 'records.ndjson.gz',
          bytes: packed.length,
          sha256: sha(packed),
          rawBytes: Buffer.byteLength(raw),
          rawSha256: sha(raw),
        };
        const records = Object.values(spaces).reduce((a, b) => a + b, 0);
        await writeFile(manifestPath, signed({ ...m, spaces, records, parts: [part] }));
      };
      const cases: Array<[string, string, Record<string, number>]> = [
        ['a value that is not JSON', `${line({ value: '{oops' })}\n`, { 'kv.a': 1 }],
        ['a key twice', `${line({})}\n${line({ value: '2' })}\n`, { 'kv.a': 1 }],
        ['a record expired at the time of the backup', `${line({})}\n${line({ key: 'gone', expiresAt: 1 })}\n`, { 'kv.a': 1 }],
        ['a line that is not JSON', `${line({})}\n{"space":\n`, { 'kv.a': 1 }],
        ['a space named ../x', `${line({ space: '../x' })}\n`, { 'kv.a': 1 }],
        ['a version past 2^53', `${line({ version: 2 ** 53 + 2 })}\n`, { 'kv.a': 1 }],
        ['a time that is a string', `${line({ updatedAt: 'now' })}\n`, { 'kv.a': 1 }],
        ['fewer lines than the manifest', `${line({})}\n`, { 'kv.a': 2 }],
      ];
      for (const [what, raw, spaces] of cases) {
        await write(raw, spaces);
        expect(await codeOf(store.backups.verify(backup.path)), `verify: ${what}`).toBe('CORRUPT');
        expect(await codeOf(store.restore(backup.path)), `restore: ${what}`).toBe('CORRUPT');
        expect(await contentHash(store), what).toBe(live);
      }
      // Keys a plain object would trip on are data like any other.
      await write(`${line({ key: '__proto__' })}\n${line({ key: 'constructor' })}\n`, { 'kv.a': 2 });
      expect((await store.restore(backup.path)).records).toBe(2);
      expect(await store.kv('a').get('__proto__')).toBe(1);
      expect(await store.kv('a').get('constructor')).toBe(1);
      expect(await store.kv('live').get('k')).toBeNull();
    } finally {
      await source.close();
      await store.close();
    }
  });
});

describe('retention (prune)', () => {
  it('damaged backups never take the place of good ones, and a backup dated in the future pushes none out', async () => {
    let clock = Date.UTC(2026, 5, 1);
    const store = await openStore({ url: urlFor('sqlite'), sweepInterval: false, clock: () => clock });
    try {
      await store.kv('a').set('x', 1);
      const day = 24 * 3600_000;
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        ids.push((await store.backup()).id);
        clock += day;
      }
      // The two newest are damaged: `keep: 2` still keeps two good ones (and the damaged ones newer than them).
      const listed = await store.backups.list();
      await writeFile(join(listed[0]!.path, 'manifest.json'), 'garbage');
      await writeFile(join(listed[1]!.path, 'manifest.json'), 'garbage');
      expect(await store.backups.prune({ keep: 2, dryRun: true })).toEqual({ deleted: [], kept: [...ids].reverse() });
      expect(await store.backups.prune({ keep: 1, dryRun: true })).toEqual({
        deleted: [ids[0]],
        kept: [ids[3], ids[2], ids[1]],
      });
      // maxAge alone: damaged ones go by their age like the others.
      expect(await store.backups.prune({ maxAge: '1d', dryRun: true })).toEqual({
        deleted: [ids[3], ids[2], ids[1], ids[0]],
        kept: [],
      });
      expect(await store.backups.prune({ keep: 1 })).toEqual({ deleted: [ids[0]], kept: [ids[3], ids[2], ids[1]] });
      expect((await store.backups.list()).map((b) => b.id)).toEqual([ids[3], ids[2], ids[1]]);

      // The clock was years ahead for one backup, then set right: the backups taken since stay.
      clock = Date.UTC(2030, 0, 1);
      const future = (await store.backup()).id;
      clock = Date.UTC(2026, 5, 20);
      const latest = (await store.backup()).id;
      expect(await store.backups.prune({ keep: 1 })).toEqual({ deleted: [ids[3], ids[2], ids[1]], kept: [future, latest] });
      expect(await store.backups.prune({ keep: 1, maxAge: '1h' })).toEqual({ deleted: [], kept: [future, latest] });
      expect((await store.backups.verify(latest)).ok).toBe(true);

      // dryRun must be a boolean: 'yes' is refused, and nothing is deleted.
      for (const dryRun of ['yes', 1, 'false', null]) {
        expect(await codeOf(store.backups.prune({ keep: 1, dryRun } as never)), String(dryRun)).toBe('BAD_INPUT');
      }
      expect((await store.backups.list()).map((b) => b.id)).toEqual([future, latest]);
      for (const keep of [0, -1, 2 ** 60, Number.NaN, '1', null]) {
        expect(await codeOf(store.backups.prune({ keep } as never)), String(keep)).toBe('BAD_INPUT');
      }
      expect((await store.backups.list()).map((b) => b.id)).toEqual([future, latest]);
    } finally {
      await store.close();
    }
  });
});

describe('file modes', () => {
  it('the scratch copy a sqlite backup makes next to the store, and the stage of a load, are 0600 like the store', async () => {
    const store = await openStore({ url: urlFor('sqlite'), sweepInterval: false });
    const file = await openStore({ url: urlFor('file', 'files'), sweepInterval: false });
    try {
      await small(store);
      expect((await stat(join(dir, 'app.db'))).mode & 0o777).toBe(0o600);
      const seen = new Map<string, number>();
      const look = async (): Promise<void> => {
        for (const name of await readdir(dir)) {
          if (name.includes('.strata-')) seen.set(name, (await stat(join(dir, name))).mode & 0o777);
        }
      };
      let pending: Promise<void> = Promise.resolve();
      const backup = await store.backup({
        onProgress: (p) => {
          if (p.phase === 'compress' && p.bytes === 0) pending = look();
        },
      });
      await pending;
      const scratch = [...seen].filter(([n]) => n.includes('.strata-backup-'));
      expect(scratch.length).toBeGreaterThan(0);
      for (const [name, mode] of scratch) expect(mode, name).toBe(0o600);
      for (const name of await readdir(backup.path)) expect((await stat(join(backup.path, name))).mode & 0o777).toBe(0o600);
      expect((await stat(backup.path)).mode & 0o777).toBe(0o700);
      expect((await stat(join(dir, 'backups'))).mode & 0o777).toBe(0o700);

      // A records backup restored into sqlite is staged in a file next to the store first.
      await file.kv('f').set('x', 1);
      const records = await file.backup();
      seen.clear();
      const driver = bottomDriver(store);
      const original = driver.loadImage!.bind(driver);
      driver.loadImage = async (source, options, now) => {
        async function* watched(): AsyncIterable<RawRecord> {
          for await (const r of source) {
            await look();
            yield r;
          }
        }
        return original(watched(), options, now);
      };
      await store.restore(records.path);
      const stages = [...seen].filter(([n]) => n.includes('.strata-stage-'));
      expect(stages.length).toBeGreaterThan(0);
      for (const [name, mode] of stages) expect(mode, name).toBe(0o600);
      expect(await store.kv('f').get('x')).toBe(1);
    } finally {
      await store.close();
      await file.close();
    }
  });
});

describe('a restore that changes the encryption state', () => {
  it.each(['sqlite', 'file'])(
    'leaves this handle refusing every call with CLOSED (never ciphertext as values), until reopened (%s)',
    async (kind) => {
      const encrypted = await openStore({ url: urlFor(kind, 'enc'), encryption: { keys: KEYS }, sweepInterval: false });
      await encrypted.kv<string>('secrets', { encrypt: true }).set('token', 'the-secret');
      await encrypted.kv('plain').set('p', 1);
      const backup = await encrypted.backup({ to: join(dir, 'backups') });
      await encrypted.close();

      const plain = await openStore({ url: urlFor(kind, 'plain'), sweepInterval: false });
      // Another handle on the same store, opened without a keyring: it is not told (README).
      const bystander = await openStore({ url: urlFor(kind, 'plain'), sweepInterval: false });
      await plain.kv('plain').set('p', 2);
      const plainBackup = await plain.backup({ to: join(dir, 'backups') });
      expect((await plain.restore(backup.path, { dryRun: true })).reopen).toBe(false);
      expect(await plain.kv('plain').get('p')).toBe(2);
      expect((await plain.restore(backup.path)).reopen).toBe(true);
      const error = await Promise.resolve()
        .then(() => plain.kv('secrets').get('token'))
        .catch((e: StrataError) => e);
      expect(error).toMatchObject({ code: 'CLOSED' });
      expect((error as StrataError).message).toContain('encryption state');
      expect((error as StrataError).hint).toContain('store.close()');
      expect(await codeOf(() => plain.kv('plain').get('p'))).toBe('CLOSED');
      expect(await codeOf(() => plain.kv('plain').set('p', 3))).toBe('CLOSED');
      expect(await codeOf(() => plain.collection('c').insert({ id: 'a' }))).toBe('CLOSED');
      await plain.close();
      expect(String(await bystander.kv('secrets').get('token'))).toMatch(/^enc1\./);
      await bystander.close();
      // Reopened without keys: encrypted values are DECRYPT_FAILED, plain ones read.
      const again = await openStore({ url: urlFor(kind, 'plain'), sweepInterval: false });
      expect(await codeOf(again.kv('secrets').get('token'))).toBe('DECRYPT_FAILED');
      expect(await again.kv('plain').get('p')).toBe(1);
      await again.close();
      const keyed = await openStore({ url: urlFor(kind, 'plain'), encryption: { keys: KEYS }, sweepInterval: false });
      expect(await keyed.kv('secrets').get('token')).toBe('the-secret');

      // And back: a backup without encrypted data into the store opened with its keyring.
      expect((await keyed.restore(plainBackup.path)).reopen).toBe(true);
      expect(await codeOf(() => keyed.kv<string>('secrets', { encrypt: true }).set('t2', 'x'))).toBe('CLOSED');
      await keyed.close();
      const reopened = await openStore({ url: urlFor(kind, 'plain'), encryption: { keys: KEYS }, sweepInterval: false });
      expect(await reopened.kv('plain').get('p')).toBe(2);
      expect(await reopened.kv('secrets').get('token')).toBeNull();
      await reopened.kv<string>('secrets', { encrypt: true }).set('t2', 'x');
      expect(await reopened.kv('secrets').get('t2')).toBe('x');
      await reopened.close();
    },
  );
});

describe('a path given as the backup', () => {
  it('never reaches outside the backup directory, whatever the name', async () => {
    const store = await openStore({ url: urlFor('sqlite'), sweepInterval: false });
    try {
      await small(store);
      const to = join(dir, 'backups');
      const backup = await store.backup({ to });
      const live = await contentHash(store);
      const refs = [
        '../../etc/passwd',
        '..',
        '.',
        `${backup.id}/..`,
        `${backup.id}/../..`,
        '__proto__',
        'constructor',
        '%2e%2e',
        '\u0000',
      ];
      for (const ref of refs) {
        expect(await codeOf(store.restore(ref, { dir: to })), ref).toBe('NOT_FOUND');
        expect(await codeOf(store.backups.verify(ref, { dir: to })), ref).toBe('NOT_FOUND');
        expect(['NOT_FOUND', 'BAD_INPUT'], ref).toContain(await codeOf(store.restore(ref)));
      }
      // A backup directory under another name (one a target could not even name): a clear BAD_INPUT.
      for (const name of ['my backup', 'renamed', 'ünï']) {
        await cp(backup.path, join(dir, name), { recursive: true });
        const error = await store.restore(join(dir, name)).catch((e: StrataError) => e);
        expect(error, name).toMatchObject({ code: 'BAD_INPUT' });
        expect((error as StrataError).message, name).toContain('not named by its id');
        expect(await codeOf(store.backups.verify(join(dir, name, 'manifest.json'))), name).toBe('BAD_INPUT');
      }
      expect(await contentHash(store)).toBe(live);
    } finally {
      await store.close();
    }
  });
});
