import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openStore, type Store } from '../../src/store.js';
import { StrataError } from '../../src/errors.js';
import { rawDump } from '../../src/testing/transfer-suite.js';

/**
 * >= 1,000 generated malformed and hostile export files; every one must be refused with
 * BAD_INPUT, CORRUPT or VALIDATION_FAILED and leave the store byte-for-byte as it was.
 * Files are built from a real export: its lines are mutated one defect at a time, and the
 * trailer is recomputed (unless the defect is in it) so each file is wrong in one way only.
 */

const root = mkdtempSync(join(tmpdir(), 'strata-hostile-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const Task = z.object({ id: z.string(), title: z.string(), done: z.boolean() });

interface Model {
  manifest: string;
  sections: Array<{ header: string; lines: string[] }>;
}

interface Hostile {
  name: string;
  bytes: Buffer;
}

function parseModel(text: string): Model {
  const all = text.split('\n').filter(Boolean);
  const model: Model = { manifest: all[0]!, sections: [] };
  for (const line of all.slice(1, -1)) {
    if (line.startsWith('{"space":')) model.sections.push({ header: line, lines: [] });
    else model.sections.at(-1)!.lines.push(line);
  }
  return model;
}

function trailerOf(model: Model): string {
  const spaces: Record<string, { records: number; sha256: string }> = {};
  let records = 0;
  for (const s of model.sections) {
    const space = (JSON.parse(s.header) as { space: string }).space;
    const hash = createHash('sha256');
    for (const l of s.lines) hash.update(`${l}\n`);
    spaces[space] = { records: s.lines.length, sha256: hash.digest('hex') };
    records += s.lines.length;
  }
  return JSON.stringify({ end: true, records, spaces });
}

/** The file's text: manifest, sections and a correct trailer (or `trailer` as given). */
function textOf(model: Model, trailer = trailerOf(model)): string {
  const out = [model.manifest];
  for (const s of model.sections) out.push(s.header, ...s.lines);
  out.push(trailer);
  return `${out.join('\n')}\n`;
}

const clone = (m: Model): Model => ({
  manifest: m.manifest,
  sections: m.sections.map((s) => ({ header: s.header, lines: [...s.lines] })),
});
const gz = (text: string | Buffer): Buffer => gzipSync(text);
const nest = (depth: number, inner: string, open = '{"a":', close = '}'): string =>
  open.repeat(depth) + inner + close.repeat(depth);
const sectionOf = (m: Model, space: string) => m.sections.find((s) => s.header === JSON.stringify({ space }))!;

/** A record line of a user space with `value` JSON text, other fields fine. */
const line = (key: string, value: string, extra = ''): string =>
  `{"k":${JSON.stringify(key)},"v":${value},"ver":1,"c":1,"u":1,"x":null${extra}}`;

function sameContent(bytes: Buffer, text: string): boolean {
  try {
    return gunzipSync(bytes).toString('utf8') === text;
  } catch {
    return false;
  }
}

function generate(good: Buffer): Hostile[] {
  const files: Hostile[] = [];
  const text = gunzipSync(good).toString('utf8');
  const base = parseModel(text);
  const add = (name: string, data: string | Buffer): void => {
    files.push({ name, bytes: typeof data === 'string' ? gz(data) : data });
  };
  /** A copy of the model with one kv.app record line replaced by `l` (trailer recomputed). */
  const withKv = (name: string, l: string): void => {
    const m = clone(base);
    sectionOf(m, 'kv.app').lines.splice(1, 1, l);
    add(name, textOf(m));
  };
  const withDoc = (name: string, l: string): void => {
    const m = clone(base);
    sectionOf(m, 'c.tasks').lines.splice(0, 1, l);
    add(name, textOf(m));
  };

  // A. Truncated gzip at many offsets, and B. flipped bytes (past the 10-byte header, whose
  // time and OS fields gzip does not check).
  const step = Math.max(1, Math.floor(good.length / 250));
  for (let at = 0; at < good.length; at += step) files.push({ name: `truncated at ${at}`, bytes: good.subarray(0, at) });
  for (let at = 10, i = 0; at < good.length; at += Math.max(1, Math.floor((good.length - 10) / 250)), i++) {
    const bytes = Buffer.from(good);
    bytes[at] = bytes[at]! ^ (i % 2 === 0 ? 0x01 : 0xff);
    // A flip in the padding bits after deflate's last block changes nothing: that file is the same export.
    if (!sameContent(bytes, text)) files.push({ name: `byte ${at} flipped`, bytes });
  }
  // C. Trailing garbage.
  for (const [name, extra] of [
    ['zeros', Buffer.alloc(16)],
    ['one zero', Buffer.alloc(1)],
    ['text', Buffer.from('garbage')],
    ['newline', Buffer.from('\n')],
    ['gzip magic', Buffer.from([0x1f, 0x8b])],
    ['second member with a line', gz('{"k":"x","v":1,"ver":1,"c":1,"u":1,"x":null}\n')],
    ['second empty member', gz('')],
    ['second copy', good],
    ['random', createHash('sha256').update('x').digest()],
  ] as const) {
    files.push({ name: `trailing ${name}`, bytes: Buffer.concat([good, extra]) });
  }
  // D. Broken JSON on every line.
  const all = text.split('\n').filter(Boolean);
  const breakers: Array<[string, (l: string) => string]> = [
    ['cut', (l) => l.slice(0, Math.floor(l.length / 2))],
    ['extra brace', (l) => `${l}}`],
    ['single quotes', (l) => l.replace('"', "'")],
    ['trailing comma', (l) => `${l.slice(0, -1)},}`],
    ['no braces', (l) => l.slice(1, -1)],
    ['array', (l) => `[${l}]`],
    ['two objects', (l) => `${l}${l}`],
    ['comment', (l) => `${l}//x`],
    ['NUL', (l) => `${l.slice(0, 5)}\u0000${l.slice(5)}`],
    ['empty', () => ''],
  ];
  all.forEach((l, i) => {
    for (const [name, breakLine] of breakers) {
      const copy = [...all];
      copy[i] = breakLine(l);
      add(`line ${i + 1}: ${name}`, `${copy.join('\n')}\n`);
    }
  });
  // E. "__proto__" at every depth, spelt out and escaped, in values and in every structural object.
  for (const key of ['"__proto__"', '"\\u005f_proto__"', '"__pro\\u0074o__"']) {
    for (let depth = 0; depth <= 24; depth++)
      withKv(`__proto__ ${key} at depth ${depth}`, line('p', nest(depth, `{${key}:{"polluted":true}}`)));
    for (let depth = 1; depth <= 6; depth++)
      withKv(`__proto__ ${key} in array at depth ${depth}`, line('p', nest(depth, `[{${key}:1}]`, '[', ']')));
    withDoc(
      `__proto__ ${key} in a document`,
      `{"k":"t1","v":{"id":"t1","title":"x","done":true,${key}:{"x":1}},"ver":1,"c":1,"u":1,"x":null}`,
    );
    withKv(`__proto__ ${key} in a record line`, line('p', '1', `,${key}:{"polluted":true}`));
    add(`__proto__ ${key} in the manifest`, textOf({ ...clone(base), manifest: base.manifest.replace('{', `{${key}:{"x":1},`) }));
    add(
      `__proto__ ${key} in manifest.source`,
      textOf({ ...clone(base), manifest: base.manifest.replace('"source":{', `"source":{${key}:1,`) }),
    );
    add(`__proto__ ${key} in the trailer`, textOf(base, trailerOf(base).replace('{', `{${key}:{"x":1},`)));
    add(
      `__proto__ ${key} in trailer.spaces`,
      textOf(base, trailerOf(base).replace('"spaces":{', `"spaces":{${key}:{"records":0,"sha256":""},`)),
    );
    const m = clone(base);
    m.sections[0]!.header = m.sections[0]!.header.replace('{', `{${key}:1,`);
    add(`__proto__ ${key} in a space header`, textOf(m));
  }
  // F. "constructor" / "prototype" where the format has no such field.
  for (const key of ['constructor', 'prototype']) {
    const member = `"${key}":{"prototype":{"polluted":true}}`;
    withKv(`${key} in a record line`, line('p', '1', `,${member}`));
    add(`${key} in the manifest`, textOf({ ...clone(base), manifest: base.manifest.replace('{', `{${member},`) }));
    add(
      `${key} in manifest.source`,
      textOf({ ...clone(base), manifest: base.manifest.replace('"source":{', `"source":{${member},`) }),
    );
    add(`${key} in the trailer`, textOf(base, trailerOf(base).replace('{', `{${member},`)));
    add(`${key} in trailer.spaces`, textOf(base, trailerOf(base).replace('"spaces":{', `"spaces":{${member},`)));
    const m = clone(base);
    m.sections[0]!.header = m.sections[0]!.header.replace('{', `{${member},`);
    add(`${key} in a space header`, textOf(m));
    add(
      `${key} as a space`,
      textOf({ ...clone(base), sections: [...clone(base).sections, { header: `{"space":"${key}"}`, lines: [] }] }),
    );
  }
  // G. Huge strings (longer than a line may be) as a value and as a key.
  const huge = 'a'.repeat(17 * 1024 * 1024);
  withKv('a 17 MiB string value', line('huge', JSON.stringify(huge)));
  withKv('a 17 MiB key', line(huge, '1'));
  // H. Duplicates: a key twice, keys out of order, an object member twice, a space twice.
  for (const space of ['kv.app', 'c.tasks', 'meta.collections']) {
    const m = clone(base);
    const s = sectionOf(m, space);
    s.lines.splice(1, 0, s.lines[0]!);
    add(`duplicated key in ${space}`, textOf(m));
    const r = clone(base);
    sectionOf(r, space).lines.reverse();
    if (sectionOf(r, space).lines.length > 1) add(`keys out of order in ${space}`, textOf(r));
    const d = clone(base);
    d.sections.push(clone(base).sections.find((x) => x.header === JSON.stringify({ space }))!);
    add(`space ${space} twice`, textOf(d));
  }
  withKv('duplicated object member', line('dup', '{"a":1,"a":2}'));
  withDoc(
    'duplicated document field',
    '{"k":"t1","v":{"id":"t1","title":"x","done":true,"done":false},"ver":1,"c":1,"u":1,"x":null}',
  );
  // I. Wrong format version or name.
  for (const version of ['0', '2', '3', '-1', '1.5', '"1"', 'null', 'true', '[]', '{}', '100', '1e0']) {
    add(
      `format version ${version}`,
      textOf({ ...clone(base), manifest: base.manifest.replace('"version":1', `"version":${version}`) }),
    );
  }
  for (const name of ['"strata"', '"Strata-export"', 'null', '1', '"strata-backup"']) {
    add(`format name ${name}`, textOf({ ...clone(base), manifest: base.manifest.replace('"strata-export"', name) }));
  }
  for (const values of ['"plain"', 'null', 'true'])
    add(`manifest values ${values}`, textOf({ ...clone(base), manifest: base.manifest.replace('"stored"', values) }));
  add(
    'manifest createdAt not a date',
    textOf({ ...clone(base), manifest: base.manifest.replace(/"createdAt":"[^"]+"/, '"createdAt":"yesterday"') }),
  );
  add('manifest without source', textOf({ ...clone(base), manifest: base.manifest.replace(/,"source":\{[^}]*\}/, '') }));
  add('manifest with spaces', textOf({ ...clone(base), manifest: base.manifest.replace(/,/g, ', ') }));
  // J. Schema violations (the target declares tasks with a schema).
  const docs: Array<[string, string]> = [];
  for (const title of ['1', 'null', 'true', '[]', '{}', '["x"]'])
    docs.push([`title ${title}`, `{"id":"t1","title":${title},"done":true}`]);
  for (const done of ['"yes"', '1', '0', 'null', '[]', '{}', '"true"'])
    docs.push([`done ${done}`, `{"id":"t1","title":"x","done":${done}}`]);
  docs.push(
    ['no title', '{"id":"t1","done":true}'],
    ['no done', '{"id":"t1","title":"x"}'],
    ['no id', '{"title":"x","done":true}'],
    ['id a number', '{"id":1,"title":"x","done":true}'],
    ['empty', '{}'],
  );
  for (const [name, doc] of docs) withDoc(`schema: ${name}`, `{"k":"t1","v":${doc},"ver":1,"c":1,"u":1,"x":null}`);
  for (const doc of ['[]', '"doc"', '1', 'null', 'true', '[{"id":"t1"}]'])
    withDoc(`document ${doc} is not an object`, `{"k":"t1","v":${doc},"ver":1,"c":1,"u":1,"x":null}`);
  // K. Unknown and missing record fields.
  for (const field of ['z', 'meta', 's', 'type', 't', 'value', 'key', 'V', 'k2', 'ttl', 'space', 'end'])
    withKv(`unknown field ${field}`, line('f', '1', `,"${field}":1`));
  for (const field of ['"v":1,', '"ver":1,', '"c":1,', '"u":1,', ',"x":null'])
    withKv(`missing ${field}`, line('f', '1').replace(field, ''));
  // L. Keys Strata refuses.
  const longKeys = ['a'.repeat(1025), 'é'.repeat(513), '€'.repeat(342), '😀'.repeat(257), ''];
  for (const key of longKeys) {
    withKv(`kv key of ${Buffer.byteLength(key)} bytes`, line(key, '1'));
    withDoc(
      `document key of ${Buffer.byteLength(key)} bytes`,
      `{"k":${JSON.stringify(key)},"v":{"id":"t1","title":"x","done":true},"ver":1,"c":1,"u":1,"x":null}`,
    );
  }
  for (const key of ['1', 'null', 'true', '[]', '{}', '["a"]'])
    withKv(`key ${key}`, `{"k":${key},"v":1,"ver":1,"c":1,"u":1,"x":null}`);
  // M. Lone surrogates in keys, values and object keys.
  for (const s of ['\\ud800', '\\udfff', 'a\\ud83db', '\\udc00\\ud800', 'x\\ud83d']) {
    withKv(`lone surrogate ${s} in a key`, `{"k":"${s}","v":1,"ver":1,"c":1,"u":1,"x":null}`);
    for (let depth = 0; depth <= 3; depth++)
      withKv(`lone surrogate ${s} in a value at depth ${depth}`, line('s', nest(depth, `"${s}"`)));
    withKv(`lone surrogate ${s} in an object key`, line('s', `{"${s}":1}`));
  }
  // N. Numbers JSON cannot hold or that would not read back the same.
  const numbers = [
    'NaN',
    'Infinity',
    '-Infinity',
    '1e999',
    '-1e999',
    '0x10',
    '1.',
    '.5',
    '+1',
    '012',
    '12345678901234567890',
    '1E5',
    '1e-400',
    '-0',
    '1.0',
    '0.10',
    '9007199254740993',
  ];
  for (const num of numbers) {
    withKv(`number ${num}`, line('n', num));
    withKv(`number ${num} in an object`, line('n', `{"a":${num}}`));
    withKv(`number ${num} in an array`, line('n', `[1,${num}]`));
  }
  // O. Versions and times.
  for (const field of ['ver', 'c', 'u', 'x']) {
    for (const bad of [
      '-1',
      '1.5',
      '"1"',
      'true',
      '[]',
      '{}',
      'NaN',
      '1e999',
      '9007199254740993',
      ...(field === 'ver' ? ['0', 'null'] : field === 'x' ? ['9e15'] : ['null']),
    ]) {
      withKv(`${field} ${bad}`, line('t', '1').replace(new RegExp(`"${field}":[^,}]+`), `"${field}":${bad}`));
    }
  }
  // P. Counts, checksums and the trailer.
  const trailer = JSON.parse(trailerOf(base)) as { records: number; spaces: Record<string, { records: number; sha256: string }> };
  for (const space of Object.keys(trailer.spaces)) {
    for (const [name, change] of [
      ['count +1', (t: typeof trailer) => t.spaces[space]!.records++],
      ['count -1', (t: typeof trailer) => t.spaces[space]!.records--],
      [
        'sha flipped',
        (t: typeof trailer) =>
          (t.spaces[space]!.sha256 = `${t.spaces[space]!.sha256[0] === '0' ? '1' : '0'}${t.spaces[space]!.sha256.slice(1)}`),
      ],
      ['sha uppercase', (t: typeof trailer) => (t.spaces[space]!.sha256 = t.spaces[space]!.sha256.toUpperCase() + 'A')],
      ['missing', (t: typeof trailer) => delete t.spaces[space]],
    ] as const) {
      const t = JSON.parse(JSON.stringify(trailer)) as typeof trailer;
      change(t);
      add(`trailer ${space} ${name}`, textOf(base, JSON.stringify({ end: true, ...t })));
    }
  }
  add('trailer total +1', textOf(base, JSON.stringify({ end: true, records: trailer.records + 1, spaces: trailer.spaces })));
  add(
    'trailer extra space',
    textOf(
      base,
      JSON.stringify({
        end: true,
        records: trailer.records,
        spaces: { ...trailer.spaces, 'kv.ghost': { records: 0, sha256: '' } },
      }),
    ),
  );
  add('trailer end false', textOf(base, trailerOf(base).replace('"end":true', '"end":false')));
  add('no trailer', textOf(base).split('\n').slice(0, -2).join('\n') + '\n');
  add('trailer twice', textOf(base) + trailerOf(base) + '\n');
  add('a record after the trailer', textOf(base) + line('late', '1') + '\n');
  add('a blank line after the trailer', textOf(base) + '\n');
  add('no final newline', textOf(base).slice(0, -1));
  add('a record before any space', [base.manifest, line('a', '1'), ...textOf(base).split('\n').slice(1)].join('\n'));
  add('manifest only', `${base.manifest}\n`);
  add('manifest missing', textOf(base).split('\n').slice(1).join('\n'));
  add('manifest twice', `${base.manifest}\n${textOf(base)}`);
  add('empty gzip', '');
  add('an empty line', '\n');
  files.push({ name: 'empty file', bytes: Buffer.alloc(0) });
  files.push({ name: 'not gzip (the plain text)', bytes: Buffer.from(text) });
  files.push({ name: 'deflate, not gzip', bytes: Buffer.from(gunzipSync(good)) });
  // Q. Spaces an export does not carry or cannot name, and meta spaces after user spaces.
  for (const space of [
    'meta.schedules',
    'meta.journal',
    'meta.',
    'kv.',
    'c.',
    'x.y',
    'kv.bad name',
    'kv._x',
    'c.-x',
    'kv',
    'KV.app',
    `kv.${'a'.repeat(200)}`,
    'kv.a/b',
    '',
  ]) {
    add(
      `space "${space}"`,
      textOf({
        ...clone(base),
        sections: [...clone(base).sections, { header: JSON.stringify({ space }), lines: [line('a', '1')] }],
      }),
    );
  }
  {
    const m = clone(base);
    m.sections.push(m.sections.shift()!);
    add('meta space after user spaces', textOf(m));
  }
  add(
    'space header with an extra field',
    textOf({ ...clone(base), sections: [{ header: '{"space":"kv.z","n":1}', lines: [] }, ...clone(base).sections] }),
  );
  add(
    'space header not a string',
    textOf({ ...clone(base), sections: [...clone(base).sections, { header: '{"space":1}', lines: [] }] }),
  );
  // R. Nesting deeper than Strata stores.
  for (const depth of [257, 300, 1000, 100_000]) {
    withKv(`arrays ${depth} deep`, line('deep', nest(depth, '1', '[', ']')));
    withKv(`objects ${depth} deep`, line('deep', nest(depth, '1')));
  }
  // S. Bytes that are not UTF-8.
  for (const [name, bytes] of [
    ['0xff', [0xff]],
    ['lone continuation', [0x80]],
    ['cut sequence', [0xc3]],
    ['overlong', [0xc0, 0x80]],
    ['surrogate as UTF-8', [0xed, 0xa0, 0x80]],
  ] as const) {
    const m = clone(base);
    const l = sectionOf(m, 'kv.app').lines[0]!;
    const at = l.indexOf('"v":') + 5;
    const raw = Buffer.concat([
      Buffer.from(textOf(m).split(l)[0]!),
      Buffer.from(l.slice(0, at)),
      Buffer.from(bytes),
      Buffer.from(l.slice(at)),
      Buffer.from(textOf(m).split(l)[1]!),
    ]);
    files.push({ name: `non-UTF-8 ${name}`, bytes: gz(raw) });
  }
  // U. Damaged internal records.
  for (const spec of [
    '{}',
    '{"key":"","indexes":[],"timestamps":false,"ttl":null}',
    '{"key":"id","indexes":"x","timestamps":false,"ttl":null}',
    '"x"',
    '[]',
    '{"key":"id","indexes":[],"timestamps":1,"ttl":null}',
    '{"key":"id","indexes":[],"timestamps":false,"ttl":-5}',
  ]) {
    const m = clone(base);
    sectionOf(m, 'meta.collections').lines[0] = `{"k":"tasks","v":${spec},"ver":1,"c":1,"u":1,"x":null}`;
    add(`collection declaration ${spec}`, textOf(m));
  }
  const withMeta = (name: string, space: string, l: string, manifest = base.manifest): void => {
    const m = clone(base);
    m.manifest = manifest;
    m.sections.unshift({ header: JSON.stringify({ space }), lines: [l] });
    add(name, textOf(m));
  };
  withMeta(
    'encrypted spaces without an encryption record',
    'meta.encrypted',
    '{"k":"kv.app","v":{"whole":true,"fields":[]},"ver":1,"c":1,"u":1,"x":null}',
  );
  for (const state of [
    '{}',
    '{"storeId":"short","salt":null,"integrity":"checksum","keys":{}}',
    '{"storeId":"aaaaaaaaaaaaaaaaaaaa","salt":null,"integrity":"none","keys":{}}',
    '"x"',
  ]) {
    withMeta(`encryption record ${state}`, 'meta.crypto', `{"k":"state","v":${state},"ver":1,"c":1,"u":1,"x":null}`);
  }
  withMeta(
    'encryption record in a decrypted export',
    'meta.crypto',
    '{"k":"state","v":{"storeId":"aaaaaaaaaaaaaaaaaaaa","salt":null,"integrity":"checksum","keys":{}},"ver":1,"c":1,"u":1,"x":null}',
    base.manifest.replace('"stored"', '"decrypted"'),
  );
  withMeta(
    'encryption record under another key',
    'meta.crypto',
    '{"k":"other","v":{"storeId":"aaaaaaaaaaaaaaaaaaaa","salt":null,"integrity":"checksum","keys":{}},"ver":1,"c":1,"u":1,"x":null}',
  );
  return files;
}

describe('hostile import files', () => {
  let store: Store;
  let good: Buffer;
  const url = (): string => `sqlite:${join(root, 'target.db')}`;
  beforeAll(async () => {
    const source = await openStore({ url: 'memory:' });
    const app = source.kv('app');
    await app.set('a', { nested: [1, 2, { x: 'y' }] });
    await app.set('b', 'two', { ttl: '7d' });
    await app.set('c', 3);
    const tasks = source.collection('tasks', { indexes: ['done'] });
    await tasks.insert({ id: 't1', title: 'one', done: false });
    await tasks.insert({ id: 't2', title: 'two', done: true });
    await source.collection('notes', { indexes: ['at'] }).insert({ id: 'n1', at: 1 });
    const file = join(root, 'good.strata');
    await source.export(file);
    await source.close();
    good = readFileSync(file);
    store = await openStore({ url: url(), sweepInterval: false });
    store.collection('tasks', { schema: Task, indexes: ['done'] });
    await store.kv('app').set('a', 'target value');
    await store.collection('tasks').insert({ id: 't9', title: 'kept', done: false });
  });
  afterAll(() => store.close());

  it('the unmutated file imports (so each refusal below is the mutation)', async () => {
    const check = await openStore('memory:');
    check.collection('tasks', { schema: Task, indexes: ['done'] });
    await check.import(join(root, 'good.strata'));
    expect(await check.kv('app').get('c')).toBe(3);
    await check.close();
  });

  it('refuses >= 1,000 malformed and hostile files with the store unchanged', async () => {
    const files = generate(good);
    expect(files.length).toBeGreaterThanOrEqual(1000);
    const before = await rawDump(store, Date.now());
    const codes: Record<string, number> = {};
    const accepted: string[] = [];
    const path = join(root, 'hostile.strata');
    for (const [i, file] of files.entries()) {
      writeFileSync(path, file.bytes);
      const error = await store.import(path, { mode: i % 2 === 0 ? 'replace' : 'merge' }).then(
        () => null,
        (e: unknown) => e,
      );
      if (error === null) {
        accepted.push(file.name);
        continue;
      }
      expect(error, file.name).toBeInstanceOf(StrataError);
      const e = error as StrataError;
      expect(['BAD_INPUT', 'CORRUPT', 'VALIDATION_FAILED'], `${file.name}: ${e.code} ${e.message}`).toContain(e.code);
      expect(e.message, file.name).toMatch(/^store\.import: .{20,}/);
      expect(e.hint, file.name).toBeTruthy();
      codes[e.code] = (codes[e.code] ?? 0) + 1;
      if (process.env.HOSTILE_LOG) console.log(`${file.name} => ${e.code} ${e.message.slice(0, 140)}`);
      expect(await rawDump(store, Date.now()), file.name).toBe(before);
    }
    expect(accepted).toEqual([]);
    expect(await rawDump(store, Date.now())).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(codes).sort()).toEqual(['BAD_INPUT', 'CORRUPT', 'VALIDATION_FAILED']);
  }, 60_000);
});
