// Records backups whose part is rewritten by hand with matching sha256 sums (anyone can make
// them): every record must be one a write could have stored, or verify and restore are CORRUPT
// and the live store is left as it was. Keys are checked as `checkKey` checks them, values as
// the write path checks them (json.ts), documents against their collection's key field.
// Before this was checked, a key with a lone surrogate restored into sqlite changed on the way
// (replacement characters: store.verify() CORRUPT, export failing), and 1e999, values deeper
// than 256 levels and documents under another key restored on every driver.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentHash, sha, signed } from './backup-forge-helpers.js';
import { openStore, StrataError } from '../../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-backup-records-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const urlFor = (kind: string, name = 'app'): string =>
  kind === 'sqlite' ? `sqlite:${join(dir, `${name}.db`)}` : kind === 'file' ? `file:${join(dir, name)}` : 'memory:';

const deep = (levels: number, inner = '1'): string => `${'['.repeat(levels)}${inner}${']'.repeat(levels)}`;
const TAG = `k1.${'A'.repeat(43)}`;
const SPEC_SKU = JSON.stringify({ key: 'sku', indexes: [], timestamps: false, ttl: null });

type Line = [space: string, key: string, value: string];

/** Lines a write never makes, each alone in the part (with the manifest's counts made to agree). */
const HOSTILE: Array<[string, Line[]]> = [
  ['a key with a lone surrogate', [['kv.app', '\ud800', '1']]],
  ['a key with a lone low surrogate', [['kv.app', 'a\udc00', '1']]],
  ['an empty key', [['kv.app', '', '1']]],
  ['a key of 1,025 UTF-8 bytes', [['kv.app', `${'é'.repeat(512)}a`, '1']]],
  ['a document key with a lone surrogate', [['c.tasks', '\ud83d', '{"id":"\\ud83d"}']]],
  ['a meta.* key with a lone surrogate', [['meta.schedules', '\ud800', '{}']]],
  ['1e999 (reads back as Infinity)', [['kv.app', 'x', '1e999']]],
  ['-1e999 inside an object', [['kv.app', 'x', '{"a":[-1e999]}']]],
  ['nesting of 257 levels', [['kv.app', 'x', deep(257)]]],
  ['an escaped lone surrogate in a string', [['kv.app', 'x', '"\\ud800"']]],
  ['a raw lone surrogate in the value text', [['kv.app', 'x', '"\ud800"']]],
  ['a lone surrogate in a member name', [['kv.app', 'x', '{"\\udc00":1}']]],
  ['a "__proto__" member', [['kv.app', 'x', '{"__proto__":{"polluted":1}}']]],
  ['a meta.* value holding 1e999', [['meta.schedules', 'job', '{"at":1e999}']]],
  // Not in a store that signs its records (no meta.crypto saying integrity 'mac'): the whole value counts.
  ['a MAC wrapper shape 257 levels deep in a store without MACs', [['kv.app', 'x', `{"~mac":"${TAG}","~v":${deep(256)}}`]]],
  ['a document whose key field holds another key', [['c.tasks', 't1', '{"id":"t2"}']]],
  ['a document without its key field', [['c.tasks', 't1', '{"title":"x"}']]],
  ['a document whose key field is an object', [['c.tasks', 't1', '{"id":{"k":"t1"}}']]],
  ['a document that is an array', [['c.tasks', 't1', '["t1"]']]],
  ['a document that is a string', [['c.tasks', 't1', '"t1"']]],
  [
    'a document lacking the key field its declaration names',
    [
      ['c.tasks', 't1', '{"id":"t1"}'],
      ['meta.collections', 'tasks', SPEC_SKU],
    ],
  ],
];

/** Lines at the limits of what writes accept: restored as they are. */
const ACCEPTED: Line[] = [
  ['c.numbered', '7', '{"id":7,"title":"a number key field"}'],
  ['c.products', 's1', '{"sku":"s1","id":"not the key field"}'],
  ['kv.app', 'é'.repeat(512), deep(256)],
  ['kv.app', '__proto__', '{"constructor":{"prototype":1}}'],
  ['kv.app', '😀', '"\\ud83d\\ude00 and 1e308"'],
  ['meta.collections', 'products', SPEC_SKU],
];

describe.each(['sqlite', 'file', 'memory'])('a records part holding records no write makes (into %s)', (kind) => {
  it('is CORRUPT for verify, restore and a dry run, naming the record; the live store is untouched', async () => {
    const source = await openStore({ url: urlFor('file', 'source'), sweepInterval: false });
    const store = await openStore({ url: urlFor(kind), sweepInterval: false });
    try {
      await source.kv('app').set('x', 1);
      const to = join(dir, 'backups');
      const backup = await source.backup({ to });
      await store.kv('live').set('k', 'v');
      await store.collection('tasks').insert({ id: 'live-task' });
      const live = await contentHash(store);
      const manifestPath = join(backup.path, 'manifest.json');
      const partPath = join(backup.path, 'records.ndjson.gz');
      const m = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
      const template = JSON.parse(
        gunzipSync(await readFile(partPath))
          .toString()
          .split('\n')[0]!,
      ) as Record<string, unknown>;
      const write = async (lines: Line[]): Promise<void> => {
        const spaces: Record<string, number> = {};
        const raw = lines
          .map(([space, key, value]) => {
            spaces[space] = (spaces[space] ?? 0) + 1;
            return `${JSON.stringify({ ...template, space, key, value })}\n`;
          })
          .join('');
        const packed = gzipSync(raw);
        await writeFile(partPath, packed);
        const part = {
          name: 'records.ndjson.gz',
          bytes: packed.length,
          sha256: sha(packed),
          rawBytes: Buffer.byteLength(raw),
          rawSha256: sha(raw),
        };
        const records = lines.length;
        await writeFile(manifestPath, signed({ ...m, spaces, records, parts: [part] }));
      };
      for (const [what, lines] of HOSTILE) {
        await write([['kv.app', 'fine', '1'], ...lines]);
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['verify', () => store.backups.verify(backup.path)],
          ['restore', () => store.restore(backup.path)],
          ['dry run', () => store.restore(backup.path, { dryRun: true })],
        ];
        for (const [call, run] of calls) {
          const error = await Promise.resolve()
            .then(run)
            .then(
              () => null,
              (e: unknown) => e,
            );
          expect(error, `${call}: ${what}`).toBeInstanceOf(StrataError);
          expect((error as StrataError).code, `${call}: ${what}: ${(error as Error).message}`).toBe('CORRUPT');
          expect((error as StrataError).message, `${call}: ${what}`).toMatch(/^backup \S+ is damaged: .+; nothing was changed/);
          expect((error as StrataError).hint, `${call}: ${what}`).toContain('strata backup list');
        }
        expect(await contentHash(store), what).toBe(live);
        expect(({} as Record<string, unknown>).polluted, what).toBeUndefined();
      }
      // The message says which record, and why.
      await write([['kv.app', 'x', '{"a":[1e999]}']]);
      await expect(store.backups.verify(backup.path)).rejects.toThrow(/"x" in kv\.app .*value\.a\[0\] is Infinity/);
      await write([['kv.app', '\ud800', '1']]);
      await expect(store.backups.verify(backup.path)).rejects.toThrow(/line 1 of its records .*lone UTF-16 surrogate/);
      await write([['c.tasks', 't1', '{"id":"t2"}']]);
      await expect(store.backups.verify(backup.path)).rejects.toThrow(
        /document "t1" in c\.tasks holds "t2" in its key field "id"/,
      );

      // What writes accept, up to their limits, restores as it is.
      await write(ACCEPTED);
      expect((await store.backups.verify(backup.path)).records).toBe(ACCEPTED.length);
      expect((await store.restore(backup.path)).records).toBe(ACCEPTED.length);
      expect(await store.kv('live').get('k')).toBeNull();
      expect(JSON.stringify(await store.kv('app').get('é'.repeat(512)))).toBe(deep(256));
      expect(await store.kv('app').get('__proto__')).toEqual({ constructor: { prototype: 1 } });
      expect(await store.kv('app').get('😀')).toBe('😀 and 1e308');
      expect(await store.collection('numbered').get('7')).toMatchObject({ id: 7 });
      expect(await store.collection('products').get('s1')).toMatchObject({ sku: 's1' });
      expect((await store.verify()).ok).toBe(true);
      await store.export(join(dir, `${kind}.strata`));
    } finally {
      await source.close();
      await store.close();
    }
  }, 60_000);
});

describe('values Strata writes at the limits, under record MACs and encrypted lookup fields', () => {
  it.each(['file', 'memory'])('a records backup of them verifies and restores (%s)', async (kind) => {
    const keys = `k1:${Buffer.alloc(32, 5).toString('base64')}`;
    const encryption = { keys, integrity: 'mac' as const };
    // A path of 256 segments (511 characters): its leaf sits 256 levels down, and its lookup
    // envelope ({ $enc, $eq }) one more; a signed kv value gets one more level from its wrapper.
    const path = Array.from({ length: 256 }, () => 'a').join('.');
    const source = await openStore({ url: urlFor(kind, 'mac-source'), encryption, sweepInterval: false });
    let target = await openStore({ url: urlFor('sqlite', 'mac-target'), encryption, sweepInterval: false });
    try {
      await source.kv('deep').set('x', JSON.parse(deep(256)));
      await source.kv('secret', { encrypt: true }).set('y', JSON.parse(deep(256)));
      const docs = source.collection('docs', { key: 'sku', encrypt: [{ path, lookup: true }] });
      let doc: unknown = 'leaf';
      for (let i = 0; i < 256; i++) doc = { a: doc };
      await docs.insert({ ...(doc as object), sku: 'd1' });
      const backup = await source.backup({ to: join(dir, 'backups') });
      expect((await source.backups.verify(backup.path)).records).toBe(backup.records);
      // The declarations are signed too: the key field is still read from them ("sku", not "id").
      const partPath = join(backup.path, 'records.ndjson.gz');
      const manifestPath = join(backup.path, 'manifest.json');
      const [part, manifest] = [await readFile(partPath), await readFile(manifestPath, 'utf8')];
      const raw = gunzipSync(part).toString().replace('\\"sku\\":\\"d1\\"', '\\"sku\\":\\"d2\\"');
      expect(raw).toContain('\\"sku\\":\\"d2\\"');
      const packed = gzipSync(raw);
      await writeFile(partPath, packed);
      const m = JSON.parse(manifest) as { parts: Array<Record<string, unknown>> };
      const forged = {
        ...m.parts[0],
        bytes: packed.length,
        sha256: sha(packed),
        rawBytes: Buffer.byteLength(raw),
        rawSha256: sha(raw),
      };
      await writeFile(manifestPath, signed({ ...m, parts: [forged] }));
      await expect(source.backups.verify(backup.path)).rejects.toThrow(
        /document "d1" in c\.docs holds "d2" in its key field "sku"/,
      );
      await writeFile(partPath, part);
      await writeFile(manifestPath, manifest);
      // Another store's backup: another store id, so this handle must be reopened.
      expect((await target.restore(backup.path)).reopen).toBe(true);
      await target.close();
      target = await openStore({ url: urlFor('sqlite', 'mac-target'), encryption, sweepInterval: false });
      expect((await target.verify()).ok).toBe(true);
      expect(JSON.stringify(await target.kv('deep').get('x'))).toBe(deep(256));
      expect(JSON.stringify(await target.kv('secret', { encrypt: true }).get('y'))).toBe(deep(256));
      expect(await target.collection('docs', { key: 'sku', encrypt: [{ path, lookup: true }] }).get('d1')).toEqual({
        ...(doc as object),
        sku: 'd1',
      });
    } finally {
      await source.close();
      await target.close();
    }
  });
});
