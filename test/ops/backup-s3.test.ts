// Backups in S3: store.backup / restore / backups.* and the CLI against a real S3-compatible
// server (s3rver) in another process on loopback, through the official AWS SDK.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openStore, s3Target, StrataError, type Store } from '../../src/index.js';
import { parseS3Url } from '../../src/ops/backup-s3.js';
import { rawDump } from '../../src/testing/backup-suite.js';
import { requireBuild, strata } from '../cli/helpers.js';
import { S3_CREDENTIALS, startS3Server, type S3Server } from '../s3-server.js';
import { expectCode } from '../conformance/index.js';

const BUCKET = 'strata-test';
let server: S3Server;
let client: S3Client;
let dir: string;

beforeAll(async () => {
  server = await startS3Server([BUCKET]);
  client = new S3Client({ region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true, credentials: S3_CREDENTIALS });
}, 30_000);
afterAll(async () => {
  client?.destroy();
  await server?.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-s3-backup-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

let prefixes = 0;
const target = (prefix = `t${++prefixes}`) =>
  s3Target({ bucket: BUCKET, prefix, endpoint: server.endpoint, credentials: S3_CREDENTIALS });

async function bytesOf(key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const chunks: Buffer[] = [];
  for await (const chunk of out.Body as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function fill(store: Store): Promise<void> {
  await store.kv<number>('counts').setMany(Array.from({ length: 200 }, (_, i) => [`k${i}`, i] as [string, number]));
  const tasks = store.collection('tasks', { indexes: ['status'] });
  for (let i = 0; i < 10; i++) await tasks.insert({ id: `t${i}`, status: i % 2 ? 'open' : 'done' });
}

describe.each(['sqlite', 'file', 'memory'])('S3 backups of a %s store', (kind) => {
  it('backup, list, verify and restore exactly; prune removes the objects', async () => {
    const url = kind === 'sqlite' ? `sqlite:${join(dir, 'app.db')}` : kind === 'file' ? `file:${join(dir, 'app')}` : 'memory:';
    const store = await openStore({ url, sweepInterval: false });
    try {
      await fill(store);
      const to = target();
      const before = await rawDump(store, Date.now());
      const first = await store.backup({ to });
      expect(first.path).toBe(`${to.name}/${first.id}`);
      await store.kv('counts').set('k1', 'changed');
      const second = await store.backup({ to });
      await store.kv('counts').delete('k2');
      await store.collection('tasks').delete('t1');

      const listed = await store.backups.list({ dir: to });
      expect(listed.map((b) => b.id)).toEqual([second.id, first.id]);
      const verified = await store.backups.verify(first.id, { dir: to });
      expect(verified.ok).toBe(true);

      await store.restore(first.id, { dir: to });
      expect(await rawDump(store, Date.now())).toBe(before);
      expect((await store.verify()).ok).toBe(true);

      const pruned = await store.backups.prune({ dir: to, keep: 1 });
      expect(pruned.deleted).toEqual([first.id]);
      expect((await to.list()).some((name) => name.startsWith(`${first.id}/`))).toBe(false);
      expect((await store.backups.list({ dir: to })).map((b) => b.id)).toEqual([second.id]);
    } finally {
      await store.close();
    }
  });
});

describe('S3 backups: damage and failure', () => {
  it('a flipped byte in any object of a backup is refused by verify and restore; the store is unchanged', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'app.db')}`, sweepInterval: false });
    try {
      await fill(store);
      const to = target();
      const backup = await store.backup({ to });
      await store.kv('counts').set('after', 1);
      const live = await rawDump(store, Date.now());
      const objects = (await to.list(`${backup.id}/`)).map((name) => `${to.name.slice(`s3://${BUCKET}/`.length)}/${name}`);
      expect(objects.length).toBeGreaterThanOrEqual(2);
      for (const key of objects) {
        const good = await bytesOf(key);
        for (const at of [0, Math.floor(good.length / 2), good.length - 1]) {
          const bad = Buffer.from(good);
          bad[at]! ^= 0x20;
          await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bad }));
          const verified = await store.backups.verify(backup.id, { dir: to }).catch((e: unknown) => e);
          if (verified instanceof StrataError) expect(verified.code).toBe('CORRUPT');
          else expect((verified as { ok: boolean }).ok, `${key} flipped at ${at}`).toBe(false);
          await expectCode(store.restore(backup.id, { dir: to }), 'CORRUPT');
          expect(await rawDump(store, Date.now())).toBe(live);
        }
        await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: good }));
      }
      expect((await store.backups.verify(backup.id, { dir: to })).ok).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('a backup whose manifest never arrived (an interrupted upload) is not listed and cannot be restored', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'app.db')}`, sweepInterval: false });
    try {
      await fill(store);
      const to = target();
      const backup = await store.backup({ to });
      const prefix = to.name.slice(`s3://${BUCKET}/`.length);
      await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${backup.id}/manifest.json` }));
      expect((await store.backups.list({ dir: to })).map((b) => b.id)).not.toContain(backup.id);
      await expectCode(store.restore(backup.id, { dir: to }), 'NOT_FOUND');
    } finally {
      await store.close();
    }
  });

  it('a large backup goes up in several parts and restores', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'big.db')}`, durability: 'normal', sweepInterval: false });
    try {
      // Random text does not compress: ~9 MB of it makes a backup bigger than one 5 MiB part.
      const random = () => randomBytes(225).toString('base64');
      const kv = store.kv<string>('blobs');
      for (let c = 0; c < 30; c++) await kv.setMany(Array.from({ length: 1000 }, (_, i) => [`b${c}-${i}`, random()]));
      const to = s3Target({
        bucket: BUCKET,
        prefix: 'big',
        endpoint: server.endpoint,
        credentials: S3_CREDENTIALS,
        partSize: 5 * 1024 * 1024,
      });
      const before = await rawDump(store, Date.now());
      const backup = await store.backup({ to });
      expect(backup.bytes).toBeGreaterThan(5 * 1024 * 1024);
      await kv.clear();
      await store.restore(backup.id, { dir: to });
      expect(await rawDump(store, Date.now())).toBe(before);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('an unreachable endpoint is UNAVAILABLE, a missing bucket NOT_FOUND, wrong credentials BAD_INPUT', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'app.db')}`, sweepInterval: false });
    try {
      await fill(store);
      const closed = s3Target({ bucket: BUCKET, endpoint: 'http://127.0.0.1:9', credentials: S3_CREDENTIALS });
      await expectCode(store.backup({ to: closed }), 'UNAVAILABLE');
      const missing = s3Target({ bucket: 'no-such-bucket', endpoint: server.endpoint, credentials: S3_CREDENTIALS });
      await expectCode(store.backup({ to: missing }), 'NOT_FOUND');
      const secret = 'wrong-secret-5f1c9a';
      const denied = s3Target({
        bucket: BUCKET,
        endpoint: server.endpoint,
        credentials: { accessKeyId: 'nobody', secretAccessKey: secret },
      });
      const error = await expectCode(store.backups.list({ dir: denied }), 'BAD_INPUT');
      expect(`${error.message} ${error.hint ?? ''}`).not.toContain(secret);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('S3 targets: options and URLs', () => {
  it('parses s3:// URLs and refuses what is ambiguous or unsafe', () => {
    expect(parseS3Url('s3://app-backups/prod/eu?endpoint=http://127.0.0.1:9000&region=eu-west-1')).toEqual({
      bucket: 'app-backups',
      prefix: 'prod/eu',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
    });
    expect(parseS3Url('s3://app-backups')).toEqual({ bucket: 'app-backups' });
    const bad = [
      's3://KEY:hunter2secret@app-backups/x',
      's3://app-backups/x?endpoint=ftp://host',
      's3://app-backups/x?endpoint=http://user:pw@host',
      's3://app-backups/x?acl=public',
      's3://app-backups/x?forcePathStyle=yes',
      's3://Bad_Bucket/x',
      's3://app-backups/../x',
      's3://ab/x',
      'http://app-backups/x',
    ];
    for (const url of bad) {
      let error: unknown;
      try {
        parseS3Url(url);
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(StrataError);
      expect((error as StrataError).code, url).toBe('BAD_INPUT');
      expect((error as StrataError).message).not.toContain('hunter2secret');
    }
  });

  it('s3Target refuses unknown options and bad values with BAD_INPUT', () => {
    const cases: unknown[] = [
      { bucket: 'app-backups', endpont: 'http://x' },
      { bucket: 'app-backups', prefix: '/lead' },
      { bucket: 'app-backups', partSize: 1024 },
      { bucket: 'app-backups', credentials: { accessKeyId: 1 } },
      { bucket: 'app-backups', region: 'EU WEST' },
      { bucket: '' },
      null,
    ];
    for (const options of cases) {
      let error: unknown;
      try {
        s3Target(options as never);
      } catch (e) {
        error = e;
      }
      expect((error as StrataError).code, JSON.stringify(options)).toBe('BAD_INPUT');
    }
  });
});

describe('strata backup with an s3:// target', () => {
  beforeAll(() => requireBuild());
  it('create, list --json, verify and restore through a URL, credentials from the environment', async () => {
    const env = { AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey };
    const url = `s3://${BUCKET}/cli?endpoint=${server.endpoint}`;
    const run = (...args: string[]) => strata(args, { cwd: dir, env });
    expect(run('set', 'cfg', 'theme', '"dark"').code).toBe(0);
    const created = run('backup', 'create', '--to', url, '--json');
    expect(created.code, created.stderr).toBe(0);
    const backup = JSON.parse(created.stdout) as { id: string; path: string };
    expect(backup.path).toBe(`s3://${BUCKET}/cli/${backup.id}`);
    const listed = JSON.parse(run('backup', 'list', '--dir', url, '--json').stdout) as Array<{ id: string }>;
    expect(listed.map((b) => b.id)).toEqual([backup.id]);
    expect(run('backup', 'verify', backup.id, '--dir', url).code).toBe(0);
    expect(run('set', 'cfg', 'theme', '"light"').code).toBe(0);
    const restored = run('restore', backup.id, '--dir', url);
    expect(restored.code, restored.stderr).toBe(0);
    expect(run('get', 'cfg', 'theme').stdout.trim()).toBe('dark');
  }, 90_000);
});
