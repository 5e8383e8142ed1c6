import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store.js';
import { StrataError } from '../../src/errors.js';
import { MAX_LINE_BYTES } from '../../src/ops/transfer/format.js';
import { contentHash, rawDump } from '../../src/testing/transfer-suite.js';
import { retrailer } from './transfer-helpers.js';

/**
 * Every damaged copy of one small real export: a byte flipped at every offset of the gzip
 * file and of the NDJSON inside it, and the file cut at every length. Each is imported with
 * mode 'replace' into an encrypted store holding other data: refused with CORRUPT or
 * BAD_INPUT and the store byte for byte as it was, or (only where the format has no
 * checksum: the gzip header's flags, time and OS, the manifest's createdAt and source)
 * imported with exactly the content the undamaged file gives. Never other data.
 */

const root = mkdtempSync(join(tmpdir(), 'strata-transfer-damage-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const KEY_1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const NOW = Date.UTC(2026, 5, 1);

let good: Buffer;
let text: Buffer;
let target: Store;
let before: string;
/** The content hash the undamaged file gives the target. */
let expected: string;
const file = join(root, 'damaged.strata');

beforeAll(async () => {
  const source = await openStore({ url: 'memory:', encryption: { keys: KEY_1 }, clock: () => NOW });
  await source.kv('auth', { encrypt: true }).set('token', 'secret-value');
  await source.kv('app').set('theme', 'dark', { ttl: '1h' });
  await source.kv('app').set('é😀', { n: [1, 2.5, null], s: '\u2028' });
  await source.collection('tasks', { indexes: ['status'] }).insert({ id: 't1', status: 'todo' });
  await source.collection('tasks').insert({ id: 't2', status: 'done' });
  const path = join(root, 'good.strata');
  await source.export(path);
  await source.close();
  good = readFileSync(path);
  text = gunzipSync(good);
  target = await openStore({ url: 'memory:', encryption: { keys: KEY_1 }, clock: () => NOW });
  await target.import(path, { mode: 'replace' });
  expected = await contentHash(target, NOW);
  await target.import(emptyExport(), { mode: 'replace' });
  await target.kv('keep').set('mine', 'untouched');
  await target.collection('tasks').insert({ id: 'other', status: 'todo' });
  before = await rawDump(target, NOW);
});

afterAll(async () => {
  await target.close();
});

/** An export of an empty store: importing it with 'replace' empties the target's user spaces. */
function emptyExport(): string {
  const path = join(root, 'empty.strata');
  const manifest = JSON.stringify({
    format: 'strata-export',
    version: 1,
    createdAt: new Date(NOW).toISOString(),
    source: { driver: 'memory' },
    values: 'stored',
  });
  writeFileSync(path, gzipSync(`${manifest}\n${JSON.stringify({ end: true, records: 0, spaces: {} })}\n`));
  return path;
}

interface Outcome {
  refused: Record<string, number>;
  accepted: string[];
}

/**
 * Imports `bytes`; a refusal must leave the target exactly as it was, an acceptance must give
 * the undamaged file's content (the target is then put back as it was).
 */
async function attempt(bytes: Buffer, label: string, outcome: Outcome): Promise<void> {
  writeFileSync(file, bytes);
  let error: unknown;
  try {
    await target.import(file, { mode: 'replace' });
  } catch (e) {
    error = e;
  }
  if (error === undefined) {
    outcome.accepted.push(label);
    expect(await contentHash(target, NOW), `${label}: imported other data`).toBe(expected);
    await target.import(emptyExport(), { mode: 'replace' });
    await target.kv('keep').set('mine', 'untouched');
    await target.collection('tasks').insert({ id: 'other', status: 'todo' });
    expect(await rawDump(target, NOW), `${label}: the target was not put back`).toBe(before);
    return;
  }
  expect(error, label).toBeInstanceOf(StrataError);
  const code = (error as StrataError).code;
  expect(['CORRUPT', 'BAD_INPUT'], `${label}: ${(error as Error).message}`).toContain(code);
  outcome.refused[code] = (outcome.refused[code] ?? 0) + 1;
  expect(await rawDump(target, NOW), `${label}: the store changed`).toBe(before);
}

/** The first line of the NDJSON: the manifest, which no checksum covers. */
const manifestEnd = (): number => text.indexOf(0x0a);

describe('a damaged export file', () => {
  it('the undamaged file imports (so each refusal below is the damage)', async () => {
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
    expect(good.length).toBeGreaterThan(300);
    expect(before).toContain('untouched');
  });

  it('a byte flipped at every offset of the gzip file is refused or changes nothing', async () => {
    const outcome: Outcome = { refused: {}, accepted: [] };
    for (let at = 0; at < good.length; at++) {
      const bytes = Buffer.from(good);
      bytes[at] = bytes[at]! ^ (at % 2 === 0 ? 0x01 : 0x80);
      await attempt(bytes, `gzip byte ${at}`, outcome);
    }
    // Only the header's FTEXT flag (3), time (4-7), extra flags (8) and OS (9) go unchecked,
    // and a flip in the padding bits after the last deflate block (same content).
    for (const label of outcome.accepted) {
      const at = Number(label.split(' ').at(-1));
      const bytes = Buffer.from(good);
      bytes[at] = bytes[at]! ^ (at % 2 === 0 ? 0x01 : 0x80);
      const header = at >= 3 && at <= 9;
      expect(header || gunzipSync(bytes).equals(text), `${label} was accepted`).toBe(true);
    }
    expect((outcome.refused.CORRUPT ?? 0) + (outcome.refused.BAD_INPUT ?? 0)).toBeGreaterThan(good.length - 20);
  }, 60_000);

  it('a byte flipped at every offset of the NDJSON is refused, unless it is in the manifest', async () => {
    const outcome: Outcome = { refused: {}, accepted: [] };
    for (let at = 0; at < text.length; at++) {
      const bytes = Buffer.from(text);
      bytes[at] = bytes[at]! ^ (at % 3 === 0 ? 0x01 : at % 3 === 1 ? 0x20 : 0x80);
      await attempt(gzipSync(bytes), `text byte ${at}`, outcome);
    }
    for (const label of outcome.accepted) {
      // Accepted only inside the manifest's createdAt digits or source driver name.
      const at = Number(label.split(' ').at(-1));
      expect(at, `${label} was accepted`).toBeLessThan(manifestEnd());
      const manifest = text.subarray(0, manifestEnd()).toString();
      const field = manifest.indexOf('"source"');
      const inTime = at > manifest.indexOf('"createdAt"') + 12 && at < field - 2;
      const inDriver = at > manifest.indexOf('"driver"') + 9 && at < manifest.indexOf('"values"') - 3;
      expect(inTime || inDriver, `${label} was accepted`).toBe(true);
    }
    expect(outcome.refused.CORRUPT ?? 0).toBeGreaterThan(text.length * 0.8);
  }, 60_000);

  it('the file cut at every length is refused (gzip and the NDJSON in it)', async () => {
    const outcome: Outcome = { refused: {}, accepted: [] };
    for (let n = 0; n < good.length; n++) await attempt(good.subarray(0, n), `gzip cut at ${n}`, outcome);
    for (let n = 0; n < text.length; n++) await attempt(gzipSync(text.subarray(0, n)), `text cut at ${n}`, outcome);
    expect(outcome.accepted).toEqual([]);
    expect(outcome.refused).toEqual({ CORRUPT: good.length + text.length });
  }, 60_000);
});

describe('manifest', () => {
  it('createdAt must be what the writer writes (an ISO time), not any text Date.parse reads', async () => {
    const lines = text.toString('utf8').split('\n');
    const manifest = JSON.parse(lines[0]!) as { createdAt: string };
    for (const createdAt of [
      manifest.createdAt.toLowerCase(),
      manifest.createdAt.replace('Z', '+00:00'),
      '2026-06-01',
      'June 1, 2026',
    ]) {
      const edited = [JSON.stringify({ ...manifest, createdAt }), ...lines.slice(1)].join('\n');
      const outcome: Outcome = { refused: {}, accepted: [] };
      await attempt(gzipSync(edited), createdAt, outcome);
      expect(outcome.refused, createdAt).toEqual({ CORRUPT: 1 });
    }
  });
});

describe('documents whose key field is not their key', () => {
  it('are refused (BAD_INPUT naming the line), whichever declaration gives the key field', async () => {
    const source = await openStore('memory:');
    await source.collection('items', { key: 'sku', indexes: ['kind'] }).insert({ sku: 's1', kind: 'a' });
    await source.collection('items').insert({ sku: 's2', kind: 'b' });
    await source.collection('items').insert({ sku: 10, kind: 'n' });
    await source.collection('plain').insert({ id: 'p1' });
    const path = join(root, 'keys.strata');
    await source.export(path);
    await source.close();
    const ndjson = gunzipSync(readFileSync(path)).toString('utf8');
    // The unedited file imports, a number key field included.
    const ok = await openStore('memory:');
    await ok.import(path);
    expect(await ok.collection('items').get('10')).toEqual({ sku: 10, kind: 'n' });
    await ok.close();
    const cases: Array<[string, string]> = [
      ['another key', ndjson.replace('{"sku":"s2"', '{"sku":"zz"')],
      ['no key field', ndjson.replace('{"sku":"s2",', '{')],
      ['a number that is not the key', ndjson.replace('{"sku":"s2"', '{"sku":2')],
      ['a boolean', ndjson.replace('{"sku":"s2"', '{"sku":true')],
      ['an object', ndjson.replace('{"sku":"s2"', '{"sku":{"s2":1}')],
      ['the default key field "id"', ndjson.replace('{"id":"p1"}', '{"id":"p2"}')],
      // Without its declaration the collection is keyed by "id", which the documents lack.
      ['a declaration removed', ndjson.replace(/\{"space":"meta\.collections"\}\n[^\n]*\n/, '')],
    ];
    for (const [name, edited] of cases) {
      expect(edited, name).not.toBe(ndjson);
      writeFileSync(join(root, 'keys-bad.strata'), gzipSync(retrailer(edited)));
      for (const mode of ['merge', 'replace'] as const) {
        const store = await openStore('memory:');
        await store.kv('mine').set('a', 1);
        const was = await rawDump(store, Date.now());
        const error = await store.import(join(root, 'keys-bad.strata'), { mode }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, `${name} (${mode})`).toBeInstanceOf(StrataError);
        expect((error as StrataError).code, `${name}: ${(error as Error).message}`).toBe('BAD_INPUT');
        expect((error as Error).message).toMatch(/line \d+ of the export file: document ".*" in c\.\w+ holds .* key field/);
        expect(await rawDump(store, Date.now())).toBe(was);
        await store.close();
      }
    }
  });

  it('follow the declaration this process or the target makes when the file makes none', async () => {
    const source = await openStore('memory:');
    await source.collection('items', { key: 'sku' }).insert({ sku: 's1' });
    const path = join(root, 'nodecl.strata');
    await source.export(path);
    await source.close();
    const bare = retrailer(
      gunzipSync(readFileSync(path))
        .toString('utf8')
        .replace(/\{"space":"meta\.collections"\}\n[^\n]*\n/, ''),
    );
    writeFileSync(join(root, 'nodecl-bare.strata'), gzipSync(bare));
    // This process declares the key field: the documents match it.
    const declaring = await openStore('memory:');
    declaring.collection('items', { key: 'sku' });
    await declaring.import(join(root, 'nodecl-bare.strata'));
    expect(await declaring.collection('items').get('s1')).toEqual({ sku: 's1' });
    await declaring.close();
    // The target remembers it (declared once, earlier).
    const url = `sqlite:${join(root, 'remembers.db')}`;
    const first = await openStore({ url, sweepInterval: false });
    await first.collection('items', { key: 'sku' }).insert({ sku: 'old' });
    await first.close();
    const second = await openStore({ url, sweepInterval: false });
    await second.import(join(root, 'nodecl-bare.strata'), { mode: 'replace' });
    expect((await second.collection('items').query({})).map((d) => d.sku)).toEqual(['s1']);
    await second.close();
  });
});

describe('records too long for a line', () => {
  /** The value whose record line, with its newline, is `bytes` long at time NOW for key "big" in kv.a. */
  function sized(bytes: number): string {
    const overhead = `{"k":"big","v":"","ver":1,"c":${NOW},"u":${NOW},"x":null}\n`.length;
    return 'x'.repeat(bytes - overhead);
  }

  it('a line of exactly the limit travels; one byte more is refused by export, leaving no file', async () => {
    for (const url of ['memory:', `sqlite:${join(root, 'long.db')}`, `file:${join(root, 'long')}`]) {
      const dir = mkdtempSync(join(root, 'long-'));
      const store = await openStore({ url, clock: () => NOW, sweepInterval: false });
      await store.kv('a').set('big', sized(MAX_LINE_BYTES));
      const path = join(dir, 'out.strata');
      await store.export(path);
      const copy = await openStore({ url: 'memory:', clock: () => NOW });
      await copy.import(path);
      expect(await contentHash(copy, NOW)).toBe(await contentHash(store, NOW));
      await copy.close();
      // One byte more: the file it would write could not be imported.
      const old = readFileSync(path);
      await store.kv('a').set('big', sized(MAX_LINE_BYTES + 1));
      const error = await store.export(path).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, url).toBeInstanceOf(StrataError);
      expect((error as StrataError).code).toBe('UNSUPPORTED');
      expect((error as StrataError).details).toMatchObject({ space: 'kv.a', key: 'big', bytes: MAX_LINE_BYTES + 1 });
      expect((error as Error).message).toContain('no file was written');
      // The previous export is untouched and no temp file is left.
      expect(readFileSync(path).equals(old)).toBe(true);
      expect(readdirSync(dir)).toEqual(['out.strata']);
      // Multi-byte text counts in UTF-8 bytes: 6 MiB of a 3-byte character is over the limit.
      await store.kv('a').set('big', '€'.repeat(6 * 1024 * 1024));
      await expect(store.export(join(dir, 'wide.strata'))).rejects.toMatchObject({ code: 'UNSUPPORTED' });
      expect(readdirSync(dir)).toEqual(['out.strata']);
      await store.close();
    }
  }, 60_000);
});
