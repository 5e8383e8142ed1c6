// Two rotations at once, SIGKILLed at random moments, while a third process keeps writing
// (children of test/fixtures/rotate-worker.mjs). After every round every record is readable
// under "k2,k1" and verify() is clean; a final pair of rotations both finish and each reports
// exactly the records that need k2, nothing under k1; once the writer stopped every record
// holds its last acknowledged write, a rerun rewrites nothing, k1 is retired exactly once, and
// k2 alone reads everything while k1 alone is refused naming k2.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Store } from '../../src/index.js';
import type { RotationReport } from '../../src/crypto/rotate.js';
import { rawDriver } from '../../src/testing/encryption-suite.js';
import { rng } from '../rng.js';
import { fileDrivers, fixture, LineChild, sleep, strata, tempDir } from './helpers.js';

const WORKER = fixture('rotate-worker.mjs');
const K1 = `k1:${randomBytes(32).toString('base64')}`;
const K2 = `k2:${randomBytes(32).toString('base64')}`;
const BOTH = `${K2},${K1}`;
const ENCRYPT = ['apiKey', 'profile.phone', { path: 'email', lookup: true }];
const RECORDS = 400;
const TOTAL = 2 * RECORDS + 20;
const KINDS = ['sqlite', 'file'] as const;
type Kind = (typeof KINDS)[number];

let tmp: { path: string; dispose(): Promise<void> };
const children: LineChild[] = [];
beforeEach(async () => {
  tmp = await tempDir('rotate-race');
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill();
  await tmp.dispose();
});

function openAt(kind: Kind, location: string, keys: string): Promise<Store> {
  const encryption = { keys };
  if (kind === 'file') {
    return strata.openStore({ driver: fileDrivers.fileDriver({ dir: location }), encryption, sweepInterval: false });
  }
  return strata.openStore({ url: `sqlite:${location}`, encryption, sweepInterval: false });
}

type Doc = { id: string; n: number; email: string; apiKey: string; profile: { phone: string; city: string } };

async function seed(kind: Kind, location: string): Promise<{ kv: Map<string, unknown>; docs: Map<string, Doc> }> {
  const store = await openAt(kind, location, K1);
  const kv = store.kv('vault', { encrypt: true });
  const users = store.collection('users', { encrypt: ENCRYPT });
  const expected = { kv: new Map<string, unknown>(), docs: new Map<string, Doc>() };
  const entries: Array<[string, unknown]> = [];
  const docs: Doc[] = [];
  for (let n = 0; n < RECORDS; n++) {
    entries.push([`s${n}`, { n, secret: `secret-${n}` }]);
    docs.push({ id: `u${n}`, n, email: `${n}@x.io`, apiKey: `key-${n}`, profile: { phone: `+47 ${n}`, city: 'Oslo' } });
  }
  for (let i = 0; i < 20; i++) entries.push([`ttl${i}`, `expiring-${i}`]);
  await kv.setMany(entries.slice(0, RECORDS));
  for (let i = 0; i < 20; i++) await kv.set(`ttl${i}`, `expiring-${i}`, { ttl: '2d' });
  await users.insertMany(docs);
  for (const [key, value] of entries) expected.kv.set(key, value);
  for (const doc of docs) expected.docs.set(doc.id, doc);
  await store.close();
  return expected;
}

async function keyCounts(store: Store): Promise<{ k1: number; k2: number }> {
  const inner = rawDriver(store);
  const values: string[] = [];
  for (const space of ['kv.vault', 'c.users']) for (const r of await inner.scan(space, {}, Date.now())) values.push(r.value);
  return {
    k1: values.filter((v) => v.includes('enc1.k1.')).length,
    k2: values.filter((v) => !v.includes('enc1.k1.') && v.includes('enc1.k2.')).length,
  };
}

/** Every record opens (values may still change: the writer runs), lookups work, verify() is clean. */
async function expectReadable(store: Store, expected: { kv: Map<string, unknown> }): Promise<void> {
  const kv = store.kv('vault');
  const values = await kv.getMany([...expected.kv.keys()]);
  expect(values.filter((v) => v === undefined || v === null)).toEqual([]);
  for (let i = 0; i < 20; i++) expect(await kv.get(`ttl${i}`)).toBe(`expiring-${i}`);
  const users = store.collection('users');
  expect(await users.count()).toBe(RECORDS);
  expect((await users.query({ email: '7@x.io' })).length).toBeLessThanOrEqual(1);
  const report = await store.verify();
  expect(report.issues).toEqual([]);
  expect(await keyCounts(store).then((c) => c.k1 + c.k2)).toBe(TOTAL);
}

function rotator(kind: Kind, location: string): LineChild {
  const child = new LineChild(WORKER, ['rotate', kind, location, String(RECORDS), 'barrier'], {
    stdin: true,
    env: { ...process.env, STRATA_TEST_KEYS: BOTH },
  });
  children.push(child);
  return child;
}

let kills = 0;
const rewrittenOf = (line: string): number => Number(line.split(' ')[3]);
const reportOf = (child: LineChild): RotationReport | null => {
  const done = child.lines.find((l) => l.startsWith('D '));
  return done === undefined ? null : (JSON.parse(done.slice(2)) as RotationReport);
};

/** Starts two rotations at once and SIGKILLs each after a random number of its own rewrites (or lets it finish). */
async function killedPair(kind: Kind, location: string, random: () => number): Promise<RotationReport[]> {
  const pair = [rotator(kind, location), rotator(kind, location)];
  await Promise.all(pair.map((c) => c.waitFor('R', 20_000)));
  for (const c of pair) c.send('go\n');
  await Promise.all(
    pair.map(async (child) => {
      const after = 5 + Math.floor(random() * 120);
      const delay = Math.floor(random() * 6);
      await child.waitFor(
        (l) => l.startsWith('D ') || (l.startsWith('P ') && rewrittenOf(l) >= after),
        30_000,
        `${after} rewrites`,
      );
      if (delay > 0) await sleep(delay);
      child.kill();
      const exit = await child.exit(10_000);
      // Killed, or it finished first (the other one did the rest of the work).
      if (exit.signal === 'SIGKILL') kills++;
      else expect(exit.code, child.stderr).toBe(0);
    }),
  );
  return pair.map(reportOf).filter((r): r is RotationReport => r !== null);
}

describe.each(KINDS)('two rotations racing a writer, killed at random moments (%s)', (kind) => {
  it('keeps every record readable, then both finish reporting keys in use exactly, and k1 retires once', async () => {
    const location = join(tmp.path, kind === 'sqlite' ? 'store.db' : 'store');
    const expected = await seed(kind, location);
    const random = rng(kind === 'sqlite' ? 0x5eed1 : 0x5eed2);
    const writer = new LineChild(WORKER, ['write', kind, location, String(RECORDS), 'barrier'], {
      stdin: true,
      env: { ...process.env, STRATA_TEST_KEYS: BOTH },
    });
    children.push(writer);
    await writer.waitFor('R', 20_000);
    writer.send('go\n');
    await writer.waitFor((l) => l.startsWith('A '), 20_000, 'a first write');

    kills = 0;
    const finished: RotationReport[] = [];
    for (let round = 0; round < 3; round++) {
      finished.push(...(await killedPair(kind, location, random)));
      const store = await openAt(kind, location, BOTH);
      await expectReadable(store, expected);
      await store.close();
    }

    expect(kills, 'rotations killed before their end').toBeGreaterThanOrEqual(4);
    // Both finish while the writer still writes.
    const pair = [rotator(kind, location), rotator(kind, location)];
    await Promise.all(pair.map((c) => c.waitFor('R', 20_000)));
    const acksBefore = writer.lines.length;
    for (const c of pair) c.send('go\n');
    for (const c of pair) expect((await c.exit(40_000)).code, c.stderr).toBe(0);
    const reports = pair.map((c) => reportOf(c)!);
    for (const report of reports) {
      expect(report.failed).toEqual([]);
      expect(report.keysInUse).toEqual({ k2: TOTAL });
    }
    expect(writer.lines.length, 'writes acknowledged while the last pair ran').toBeGreaterThan(acksBefore);
    writeFileSync(`${location}.stop`, '');
    await writer.waitFor('END', 20_000);
    expect((await writer.exit(20_000)).code, writer.stderr).toBe(0);

    // The last acknowledged write of each record is what it holds.
    for (const line of writer.lines.filter((l) => l.startsWith('A '))) {
      const [, what, key, ...rest] = line.split(' ');
      if (what === 'kv') expected.kv.set(key!, JSON.parse(rest.join(' ')));
      else {
        const i = rest[0]!;
        expected.docs.set(key!, { ...expected.docs.get(key!)!, apiKey: `w-${i}`, email: `w${i}@x.io` });
      }
    }
    const store = await openAt(kind, location, BOTH);
    const rerun = await store.rotateKeys();
    expect(rerun).toEqual({ checked: TOTAL, rewritten: 0, failed: [], keysInUse: { k2: TOTAL }, retired: [] });
    // k1 was retired by exactly one run (one that was not killed before its end).
    expect([...finished, ...reports].flatMap((r) => r.retired)).toEqual(['k1']);
    for (const report of finished) expect(report.failed).toEqual([]);
    await store.close();

    const only2 = await openAt(kind, location, K2);
    expect(await keyCounts(only2)).toEqual({ k1: 0, k2: TOTAL });
    const kv = only2.kv('vault');
    const keys = [...expected.kv.keys()];
    const values = await kv.getMany(keys);
    expect(keys.filter((key, i) => !isDeepStrictEqual(values[i], expected.kv.get(key)))).toEqual([]);
    const docs = new Map((await only2.collection('users').query()).map((d) => [String(d.id), d]));
    expect([...expected.docs].filter(([id, doc]) => !isDeepStrictEqual(docs.get(id), doc)).map(([id]) => id)).toEqual([]);
    for (const doc of [...expected.docs.values()].filter((_, i) => i % 53 === 0)) {
      expect((await only2.collection('users').query({ email: doc.email })).map((d) => d.id)).toEqual([doc.id]);
    }
    expect((await only2.verify()).ok).toBe(true);
    await only2.close();
    const refused = await openAt(kind, location, K1).then(
      async (s) => {
        await s.close();
        return null;
      },
      (error: unknown) => error,
    );
    expect(strata.StrataError.is(refused, 'DECRYPT_FAILED'), String(refused)).toBe(true);
    expect((refused as Error).message).toContain('"k2"');
  }, 120_000);
});
