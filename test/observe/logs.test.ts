import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { types } from 'node:util';
import { pino } from 'pino';
import { z } from 'zod';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError, type StoreLogger } from '../../src/index.js';
import { Observer } from '../../src/observe/observer.js';
import { redactUrl } from '../../src/observe/logger.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-logs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A real pino logger writing JSON lines into memory. */
function capture(level: string): { logger: StoreLogger; lines: Line[]; raw: string[] } {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = pino({ level }, stream);
  return {
    logger,
    raw,
    get lines() {
      return raw.map((l) => JSON.parse(l) as Line);
    },
  };
}

const WARN = 40;
const ERROR = 50;
const codeOf = async (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'resolved',
    (e: unknown) => (StrataError.is(e) ? e.code : String(e)),
  );

describe('logs', () => {
  it('one warn line per failed operation with its code, op and space', async () => {
    const log = capture('info');
    const store = await openStore({ url: `sqlite:${join(dir, 'a.db')}`, logger: log.logger, sweepInterval: false });
    const kv = store.kv<number>('counters', { quota: { records: 2 } });
    await kv.set('a', 1);
    expect(await codeOf(kv.set('a', 2, { ifVersion: 5 }))).toBe('CONFLICT');
    expect(
      await codeOf(
        kv.setMany([
          ['b', 1],
          ['c', 2],
        ]),
      ),
    ).toBe('QUOTA_EXCEEDED');
    expect(await codeOf(kv.get(''))).toBe('BAD_INPUT');
    expect(await codeOf(kv.update('a', () => 1, { nope: 1 } as never))).toBe('BAD_INPUT');
    const docs = store.collection('tasks', { schema: z.object({ id: z.string(), n: z.number() }) });
    expect(await codeOf(docs.insert({ id: 't', n: 'x' } as never))).toBe('VALIDATION_FAILED');
    await docs.insert({ id: 't', n: 1 });
    expect(await codeOf(docs.insert({ id: 't', n: 2 }))).toBe('CONFLICT');
    expect(await codeOf((async () => docs.iterate({ n: 1 }, { sort: { n: 2 } } as never).next())())).toBe('BAD_INPUT');
    await store.close();

    const failures = log.lines.filter((l) => l.level >= WARN);
    expect(failures.map((l) => [l.op, l.space, l.code])).toEqual([
      ['kv.set', 'kv.counters', 'CONFLICT'],
      ['kv.setMany', 'kv.counters', 'QUOTA_EXCEEDED'],
      ['kv.get', 'kv.counters', 'BAD_INPUT'],
      ['kv.update', 'kv.counters', 'BAD_INPUT'],
      ['collection.insert', 'c.tasks', 'VALIDATION_FAILED'],
      ['collection.insert', 'c.tasks', 'CONFLICT'],
      ['collection.iterate', 'c.tasks', 'BAD_INPUT'],
    ]);
    for (const line of failures) {
      expect(line.level).toBe(WARN);
      expect(typeof line.durationMs).toBe('number');
      expect(line.msg).toBe(`${String(line.op)} failed: ${String(line.code)}`);
    }
    const info = log.lines.filter((l) => l.level === 30);
    expect(info.map((l) => l.event)).toEqual(['open', 'close']);
    expect(log.lines.some((l) => l.level === 20)).toBe(false);
  });

  it("the store's own methods log their failures too (store.transaction, a bad name)", async () => {
    const log = capture('debug');
    const store = await openStore({ url: 'memory:', logger: log.logger, sweepInterval: false });
    const { Store } = await import('../../src/index.js');
    expect(store).toBeInstanceOf(Store);
    expect(() => store.kv('')).toThrow(StrataError);
    const failing = store.transaction(async (tx) => {
      await tx.kv('a').set('k', 1);
      throw new StrataError('NOT_FOUND', 'the order is gone');
    });
    expect(await codeOf(failing)).toBe('NOT_FOUND');
    expect(await codeOf(store.transaction(async (tx) => tx.kv('a').set('k', 1, { ifVersion: 3 })))).toBe('CONFLICT');
    await store.transaction(async (tx) => tx.kv('a').set('k', 1));
    expect(await store.kv('a').get('k')).toBe(1);
    await store.close();
    expect(store.closed).toBe(true);
    const failures = log.lines.filter((l) => l.level >= WARN).map((l) => [l.op, l.code, 'space' in l]);
    expect(failures).toEqual([
      ['store.kv', 'BAD_INPUT', false],
      ['store.transaction', 'NOT_FOUND', false],
      ['store.transaction', 'CONFLICT', false],
    ]);
    const debug = log.lines.filter((l) => l.level === 20).map((l) => l.op);
    expect(debug).toEqual(['store.transaction', 'kv.get']);
  });

  it('damage is logged at error level (DECRYPT_FAILED without the keys)', async () => {
    const url = `sqlite:${join(dir, 'e.db')}`;
    const keys = `k1:${Buffer.alloc(32, 3).toString('base64')}`;
    const writer = await openStore({ url, encryption: { keys }, sweepInterval: false });
    await writer.kv('vault', { encrypt: true }).set('s', 'v');
    await writer.close();
    const log = capture('warn');
    const reader = await openStore({ url, logger: log.logger, sweepInterval: false });
    expect(await codeOf(reader.kv('vault').get('s'))).toBe('DECRYPT_FAILED');
    await reader.close();
    expect(log.lines.map((l) => [l.level, l.op, l.code])).toEqual([[ERROR, 'kv.get', 'DECRYPT_FAILED']]);
  });

  it('never logs keys, values, keyring material or URL passwords (planted secrets)', async () => {
    const TOKEN = 'tok_PLANTED_SECRET_9f8e7d';
    const KEY_NAME = 'refresh:ana@example.com:PLANTEDKEY';
    const keyBytes = Buffer.alloc(32, 0x5a);
    const keys = `k1:${keyBytes.toString('base64')}`;
    const log = capture('debug');
    const store = await openStore({
      url: `sqlite:${join(dir, 's.db')}`,
      encryption: { keys },
      logger: log.logger,
      metrics: true,
      sweepInterval: false,
    });
    const auth = store.kv<string>('auth', { encrypt: true });
    await auth.set(KEY_NAME, TOKEN);
    expect(await auth.get(KEY_NAME)).toBe(TOKEN);
    expect(await codeOf(auth.set(KEY_NAME, TOKEN, { ifVersion: 9 }))).toBe('CONFLICT');
    expect(await codeOf(auth.set(`${KEY_NAME}\uD800`, TOKEN))).toBe('BAD_INPUT');
    expect(await codeOf(auth.set(KEY_NAME, TOKEN, { tll: TOKEN } as never))).toBe('BAD_INPUT');
    const docs = store.collection('users', {
      schema: z.object({ id: z.string(), apiKey: z.string().min(100) }),
      encrypt: ['apiKey'],
    });
    expect(await codeOf(docs.insert({ id: KEY_NAME, apiKey: TOKEN }))).toBe('VALIDATION_FAILED');
    const prefs = store.settings('prefs', {
      schema: z.object({ token: z.string().min(100) }),
      defaults: { token: 'x'.repeat(100) },
    });
    expect(await codeOf(prefs.set('token', TOKEN))).toBe('VALIDATION_FAILED');
    await store.close();
    // The open line of a server URL: its password is never written.
    Observer.from(log.logger, undefined, 0)!.opened('postgres', `postgres://app:${TOKEN}@db.local:5432/app?sslpassword=${TOKEN}`);

    expect(log.raw.length).toBeGreaterThan(8);
    expect(log.lines.some((l) => l.level === 20 && l.op === 'kv.get')).toBe(true);
    const planted = [TOKEN, 'PLANTED', keyBytes.toString('base64'), keyBytes.toString('hex'), 'ana@example.com'];
    for (const line of log.raw) for (const secret of planted) expect(line).not.toContain(secret);
    expect(log.lines.at(-1)!.url).toBe('postgres://app:***@db.local:5432/app?sslpassword=***');
  });

  it('levels are honoured: debug has one line per operation with its duration; warn has no info', async () => {
    const debug = capture('debug');
    const store = await openStore({ url: 'memory:', logger: debug.logger, sweepInterval: false });
    const kv = store.kv('a');
    await kv.set('k', 1);
    await kv.get('k');
    await kv.has('k');
    await store.close();
    const ops = debug.lines.filter((l) => l.level === 20).map((l) => l.op);
    expect(ops).toEqual(['kv.set', 'kv.get', 'kv.has']);
    expect(debug.lines.filter((l) => l.level === 20).every((l) => typeof l.durationMs === 'number' && l.space === 'kv.a')).toBe(
      true,
    );

    const quiet = capture('warn');
    const other = await openStore({ url: 'memory:', logger: quiet.logger, sweepInterval: false });
    await other.kv('a').set('k', 1);
    await other.close();
    expect(quiet.raw).toEqual([]);
  });

  it('an iteration (kv.entries, collection.iterate) writes one debug line when it ends, run out or stopped early', async () => {
    const debug = capture('debug');
    const store = await openStore({ url: `sqlite:${join(dir, 'it.db')}`, logger: debug.logger, sweepInterval: false });
    const kv = store.kv('e');
    await kv.setMany([
      ['a', 1],
      ['b', 2],
    ]);
    for await (const entry of kv.entries()) void entry;
    for await (const entry of kv.entries()) if (entry[0] === 'a') break;
    const docs = store.collection('docs');
    await docs.insert({ id: 'x', n: 1 });
    for await (const doc of docs.iterate({})) void doc;
    kv.entries(); // never iterated: nothing ran, nothing to log
    await store.close();
    const lines = debug.lines.filter((l) => l.level === 20);
    expect(lines.map((l) => l.op)).toEqual(['kv.setMany', 'kv.entries', 'kv.entries', 'collection.insert', 'collection.iterate']);
    expect(lines.every((l) => typeof l.durationMs === 'number')).toBe(true);
    expect(lines.find((l) => l.op === 'collection.iterate')).toMatchObject({ space: 'c.docs' });

    const info = capture('info');
    const quiet = await openStore({ url: 'memory:', logger: info.logger, sweepInterval: false });
    await quiet.kv('e').set('a', 1);
    for await (const entry of quiet.kv('e').entries()) void entry;
    await quiet.close();
    expect(info.lines.filter((l) => l.level === 20)).toEqual([]);
  });

  it('a logger that throws never breaks the store', async () => {
    const boom = (): never => {
      throw new Error('logger down');
    };
    const logger: StoreLogger = { debug: boom, info: boom, warn: boom, error: boom, isLevelEnabled: boom };
    const store = await openStore({ url: `sqlite:${join(dir, 't.db')}`, logger, metrics: true, sweepInterval: false });
    const kv = store.kv<number>('a');
    await kv.set('k', 1);
    expect(await kv.get('k')).toBe(1);
    expect(await codeOf(kv.set('k', 2, { ifVersion: 4 }))).toBe('CONFLICT');
    expect(await kv.incr('n')).toBe(1);
    const seen: string[] = [];
    for await (const [key] of kv.entries()) seen.push(key);
    expect(seen).toEqual(['k', 'n']);
    await store.close();
    expect(store.closed).toBe(true);
  });

  it('handles stay what they were: instanceof, getters, watch', async () => {
    const log = capture('debug');
    const store = await openStore({ url: 'memory:', logger: log.logger, sweepInterval: false });
    const { KvNamespace, Collection } = await import('../../src/index.js');
    const kv = store.kv('a');
    expect(kv).toBeInstanceOf(KvNamespace);
    expect(store.collection('c')).toBeInstanceOf(Collection);
    const changes: string[] = [];
    const stop = kv.watch((c) => changes.push(c.key));
    await kv.set('k', 1);
    await new Promise((r) => setTimeout(r, 20));
    stop();
    expect(changes).toEqual(['k']);
    await store.close();
  });

  it('without a logger nothing is wrapped (no cost when off)', async () => {
    const plain = await openStore({ url: 'memory:', sweepInterval: false });
    expect(types.isProxy(plain)).toBe(false);
    expect(types.isProxy(plain.kv('a'))).toBe(false);
    expect(types.isProxy(plain.collection('c'))).toBe(false);
    expect(types.isProxy(plain.settings('s'))).toBe(false);
    await plain.close();
    const logged = await openStore({ url: 'memory:', logger: capture('warn').logger, sweepInterval: false });
    expect(types.isProxy(logged)).toBe(true);
    expect(types.isProxy(logged.kv('a'))).toBe(true);
    await logged.close();
  });

  it('bad logger options are BAD_INPUT; true is pino on stderr', async () => {
    for (const logger of ['info', 1, {}, { info() {} }, null]) {
      expect(await codeOf(openStore({ url: 'memory:', logger: logger as never }))).toBe('BAD_INPUT');
    }
    const store = await openStore({ url: 'memory:', logger: false });
    await store.close();
    // logger: true in a real process (the built package): pino JSON on stderr, nothing on stdout.
    const script = `const { openStore } = await import(${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)});
      const s = await openStore({ url: 'memory:', logger: true }); await s.kv('a').set('', 1).catch(() => {}); await s.close();`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout).toBe('');
    const lines = child.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    expect(lines.map((l) => [l.level, l.name, l.event ?? l.op])).toEqual([
      [30, 'strata', 'open'],
      [WARN, 'strata', 'kv.set'],
      [30, 'strata', 'close'],
    ]);
    expect(redactUrl('redis://:hunter2@cache:6379/0')).toBe('redis://:***@cache:6379/0');
    expect(redactUrl('sqlite:data/app.db')).toBe('sqlite:data/app.db');
  });
});
