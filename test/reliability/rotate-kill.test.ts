// Key rotation under SIGKILL, in real child processes (test/fixtures/rotate-worker.mjs): a
// store with a few thousand records encrypted under k1 is rotated to k2 by a child that is
// killed at several moments. After each kill every record reads back exactly under "k2,k1" and
// verify() is ok; a rerun finishes and retires k1; then k2 alone reads everything and k1 alone
// is refused naming k2. A rotation racing a writer process loses none of its updates.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Store } from '../../src/index.js';
// RotationReport is not exported from the package index, so it comes from its module.
import type { RotationReport } from '../../src/crypto/rotate.js';
import { rawDriver } from '../../src/testing/encryption-suite.js';
import { fileDrivers, fixture, LineChild, sleep, strata, tempDir } from './helpers.js';

const WORKER = fixture('rotate-worker.mjs');
const K1 = `k1:${randomBytes(32).toString('base64')}`;
const K2 = `k2:${randomBytes(32).toString('base64')}`;
const BOTH = `${K2},${K1}`;
const ENCRYPT = ['apiKey', 'profile.phone', { path: 'email', lookup: true }];
const KINDS = ['sqlite', 'file'] as const;
type Kind = (typeof KINDS)[number];

type Doc = {
  id: string;
  n: number;
  email: string;
  apiKey: string;
  profile: { phone: string; city: string };
};

/** What the store must hold: every kv value and document, and the expiry of the TTL records. */
interface Expected {
  kv: Map<string, unknown>;
  docs: Map<string, Doc>;
  expiries: Map<string, number>;
}

let tmp: { path: string; dispose(): Promise<void> };
beforeEach(async () => {
  tmp = await tempDir('rotate');
});
afterEach(async () => {
  await tmp.dispose();
});

const locationOf = (kind: Kind, name: string): string => join(tmp.path, kind === 'sqlite' ? `${name}.db` : name);

function openAt(kind: Kind, location: string, keys: string): Promise<Store> {
  const encryption = { keys };
  if (kind === 'file') {
    return strata.openStore({ driver: fileDrivers.fileDriver({ dir: location }), encryption, sweepInterval: false });
  }
  return strata.openStore({ url: `sqlite:${location}`, encryption, sweepInterval: false });
}

/** Writes `records` kv values, `records` documents and 20 kv values with a TTL, all under k1. */
async function seed(kind: Kind, location: string, records: number): Promise<Expected> {
  const store = await openAt(kind, location, K1);
  const kv = store.kv('vault', { encrypt: true });
  const users = store.collection('users', { encrypt: ENCRYPT });
  const expected: Expected = { kv: new Map(), docs: new Map(), expiries: new Map() };
  for (let start = 0; start < records; start += 500) {
    const entries: Array<[string, unknown]> = [];
    const docs: Doc[] = [];
    for (let n = start; n < Math.min(records, start + 500); n++) {
      entries.push([`s${n}`, { n, secret: `secret-${n}-${randomBytes(4).toString('hex')}`, nested: { list: [n, 'é😀'] } }]);
      docs.push({ id: `u${n}`, n, email: `${n}@x.io`, apiKey: `key-${n}`, profile: { phone: `+47 ${n}`, city: 'Oslo' } });
    }
    await kv.setMany(entries);
    await users.insertMany(docs);
    for (const [key, value] of entries) expected.kv.set(key, value);
    for (const doc of docs) expected.docs.set(doc.id, doc);
  }
  for (let i = 0; i < 20; i++) {
    await kv.set(`ttl${i}`, `expiring-${i}`, { ttl: '2d' });
    expected.kv.set(`ttl${i}`, `expiring-${i}`);
    expected.expiries.set(`ttl${i}`, (await kv.getEntry(`ttl${i}`))!.expiresAt!.getTime());
  }
  expect(rawCounts(await rawRecords(store)).k1).toBe(2 * records + 20);
  await store.close();
  return expected;
}

/** The stored (encrypted) values below the encryption layer. */
async function rawRecords(store: Store): Promise<string[]> {
  const inner = rawDriver(store);
  const now = Date.now();
  const values: string[] = [];
  for (const space of ['kv.vault', 'c.users']) for (const r of await inner.scan(space, {}, now)) values.push(r.value);
  return values;
}

function rawCounts(values: readonly string[]): { k1: number; k2: number } {
  return {
    k1: values.filter((v) => v.includes('enc1.k1.')).length,
    k2: values.filter((v) => !v.includes('enc1.k1.') && v.includes('enc1.k2.')).length,
  };
}

/** Every record reads back exactly, lookups find documents under either key, verify() is ok. */
async function expectIntact(store: Store, expected: Expected): Promise<void> {
  const kv = store.kv('vault');
  const keys = [...expected.kv.keys()];
  const values = await kv.getMany(keys);
  const wrong = keys.filter((key, i) => !isDeepStrictEqual(values[i], expected.kv.get(key)));
  expect(wrong, 'kv records that read back differently').toEqual([]);
  for (const [key, at] of expected.expiries) expect((await kv.getEntry(key))!.expiresAt!.getTime()).toBe(at);
  const users = store.collection('users');
  const docs = new Map((await users.query()).map((d) => [String(d.id), d]));
  expect(docs.size).toBe(expected.docs.size);
  const wrongDocs = [...expected.docs].filter(([id, doc]) => !isDeepStrictEqual(docs.get(id), doc));
  expect(
    wrongDocs.map(([id]) => id),
    'documents that read back differently',
  ).toEqual([]);
  for (const doc of [...expected.docs.values()].filter((_, i) => i % 97 === 0)) {
    expect((await users.query({ email: doc.email })).map((d) => d.id)).toEqual([doc.id]);
  }
  const report = await store.verify();
  expect(report.issues).toEqual([]);
  expect(report.ok).toBe(true);
}

function rotator(kind: Kind, location: string, records: number, keys: string, barrier = false): LineChild {
  const args = ['rotate', kind, location, String(records), ...(barrier ? ['barrier'] : [])];
  return new LineChild(WORKER, args, { stdin: barrier, env: { ...process.env, STRATA_TEST_KEYS: keys } });
}

const progressOf = (line: string) => {
  const [, checked, total, rewritten, space] = line.split(' ');
  return { checked: Number(checked), total: Number(total), rewritten: Number(rewritten), space };
};

async function finishRotation(kind: Kind, location: string, records: number): Promise<RotationReport> {
  const child = rotator(kind, location, records, BOTH);
  const exit = await child.exit(30_000);
  expect(exit.code, child.stderr).toBe(0);
  const done = child.lines.find((l) => l.startsWith('D '));
  expect(done, child.lines.slice(-3).join(' | ')).toBeDefined();
  return JSON.parse(done!.slice(2)) as RotationReport;
}

describe.each(KINDS)('rotateKeys killed mid-way (%s)', (kind) => {
  it('keeps every record readable after each SIGKILL, and a rerun finishes and retires k1', async () => {
    const records = 1000;
    const location = locationOf(kind, 'store');
    const expected = await seed(kind, location, records);
    let left = 2 * records + 20;
    // Killed after this many rewrites in each run (early and later in the collection, then in
    // the kv namespace), at once or a few ms later, so the kill may land inside a batch.
    for (const [killAfter, delayMs] of [
      [60, 0],
      [600, 2],
      [700, 7],
    ] as const) {
      const child = rotator(kind, location, records, BOTH);
      await child.waitFor((l) => l.startsWith('P ') && progressOf(l).rewritten >= killAfter, 30_000, `${killAfter} rewrites`);
      if (delayMs > 0) await sleep(delayMs);
      child.kill();
      const exit = await child.exit(10_000);
      expect(exit.signal, 'the rotation finished before it could be killed').toBe('SIGKILL');
      expect(child.lines.some((l) => l.startsWith('D '))).toBe(false);
      const progress = child.lines.filter((l) => l.startsWith('P ')).map(progressOf);
      expect(progress.every((p) => p.total === 2 * records + 20)).toBe(true);

      const store = await openAt(kind, location, BOTH);
      await expectIntact(store, expected);
      const counts = rawCounts(await rawRecords(store));
      expect(counts.k1 + counts.k2).toBe(2 * records + 20);
      // Each run made progress that survived the kill.
      expect(counts.k1).toBeLessThanOrEqual(left - killAfter);
      expect(counts.k1).toBeGreaterThan(0);
      left = counts.k1;
      await store.close();
    }

    const report = await finishRotation(kind, location, records);
    expect(report.failed).toEqual([]);
    expect(report.rewritten).toBe(left);
    expect(report.keysInUse).toEqual({ k2: 2 * records + 20 });
    expect(report.retired).toEqual(['k1']);

    const only2 = await openAt(kind, location, K2);
    await expectIntact(only2, expected);
    expect(rawCounts(await rawRecords(only2))).toEqual({ k1: 0, k2: 2 * records + 20 });
    await only2.close();
    let refused: unknown;
    await openAt(kind, location, K1).then(
      (store) => store.close(),
      (error: unknown) => (refused = error),
    );
    expect(strata.StrataError.is(refused, 'DECRYPT_FAILED'), String(refused)).toBe(true);
    expect((refused as Error).message).toContain('"k2"');
  });

  it('loses no update written by another process while a rotation runs', async () => {
    const records = 500;
    const location = locationOf(kind, 'raced');
    const expected = await seed(kind, location, records);
    const writer = new LineChild(WORKER, ['write', kind, location, String(records), 'barrier'], {
      stdin: true,
      env: { ...process.env, STRATA_TEST_KEYS: BOTH },
    });
    const rotation = rotator(kind, location, records, BOTH, true);
    await Promise.all([writer.waitFor('R', 20_000), rotation.waitFor('R', 20_000)]);
    writer.send('go\n');
    // Let the writer get going, so the rotation runs under a stream of writes.
    await writer.waitFor((l) => l.startsWith('A '), 20_000, 'a first write');
    rotation.send('go\n');
    await rotation.waitFor((l) => l.startsWith('P '), 20_000, 'first progress');
    const writesAtStart = writer.lines.length;
    const done = await rotation.waitFor((l) => l.startsWith('D '), 30_000, 'the rotation report');
    const writesAtEnd = writer.lines.length;
    writeFileSync(`${location}.stop`, '');
    await writer.waitFor('END', 20_000);
    expect((await writer.exit(20_000)).code, writer.stderr).toBe(0);
    expect((await rotation.exit(20_000)).code, rotation.stderr).toBe(0);
    expect(writesAtEnd - writesAtStart, 'writes acknowledged while the rotation ran').toBeGreaterThan(0);

    // The last acknowledged write of each record is what it holds.
    for (const line of writer.lines.filter((l) => l.startsWith('A '))) {
      const [, what, key, ...rest] = line.split(' ');
      if (what === 'kv') expected.kv.set(key!, JSON.parse(rest.join(' ')));
      else {
        const i = rest[0]!;
        expected.docs.set(key!, { ...expected.docs.get(key!)!, apiKey: `w-${i}`, email: `w${i}@x.io` });
      }
    }
    const first = JSON.parse(done.slice(2)) as RotationReport;
    expect(first.failed).toEqual([]);
    expect(Object.keys(first.keysInUse)).toEqual(['k2']);

    const store = await openAt(kind, location, BOTH);
    await expectIntact(store, expected);
    await store.close();
    const rerun = await finishRotation(kind, location, records);
    expect(rerun.failed).toEqual([]);
    expect(rerun.rewritten).toBe(0);
    expect(rerun.keysInUse).toEqual({ k2: 2 * records + 20 });
    expect([...first.retired, ...rerun.retired]).toEqual(['k1']);
    const only2 = await openAt(kind, location, K2);
    await expectIntact(only2, expected);
    expect(rawCounts(await rawRecords(only2)).k1).toBe(0);
    await only2.close();
  });
});
