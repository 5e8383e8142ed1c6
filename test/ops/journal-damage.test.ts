// Damage to the change journal is refused, never papered over: a byte flipped at every offset
// of a stored entry (written back with a fresh record checksum, so only the journal's own
// checks can catch it), two entries swapped, the backup's own last entry deleted, and bytes
// flipped in the SQLite file itself where an entry lies: a point-in-time restore is CORRUPT
// (dryRun too), store.verify() says CORRUPT, and the live store is exactly as it was. And
// encrypted values never reach the journal, the database files or a backup as plain text.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { strata } from '../reliability/helpers.js';
import type { Store } from '../../src/index.js';
import { DRIVERS, dumpAll, expectCode, imageBackup, rawDriver, restore, testClock } from './journal-helpers.js';

const { openStore } = strata;
const KEYS = `k1:${Buffer.alloc(32, 9).toString('base64')}`;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-journal-damage-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function history(store: Store, clock: ReturnType<typeof testClock>) {
  const kv = store.kv('app');
  await kv.set('a', { text: 'first' });
  await store.collection('docs').insert({ id: 'd1', n: 1 });
  clock.tick();
  const base = await imageBackup(store, clock.now());
  clock.tick();
  await kv.set('b', { text: 'second', n: 2 });
  await kv.set('c', 'third', { ttl: '1d' });
  await kv.delete('a');
  await store.collection('docs').update('d1', { n: 2 });
  await kv.set('d', 4);
  clock.tick();
  return base;
}

describe('journal entry damage (sqlite)', () => {
  it('a byte flipped at every offset of an entry: CORRUPT for restore and verify, store unchanged', async () => {
    const clock = testClock();
    const store = await openStore({
      url: `sqlite:${join(dir, 's.db')}`,
      journal: { retention: '7d' },
      sweepInterval: false,
      clock: clock.now,
    });
    const base = await history(store, clock);
    const raw = rawDriver(store);
    const now = clock.now();
    const target = (await raw.scan('meta.journal', {}, now))[base.journalSeq + 1]!; // the 2nd entry after the backup
    const original = Buffer.from(target.value);
    const before = await dumpAll(raw, now);
    let flips = 0;
    for (let offset = 0; offset < original.length; offset++) {
      for (const mask of [0x01, 0x20]) {
        const bytes = Buffer.from(original);
        bytes[offset]! ^= mask;
        const value = bytes.toString('utf8');
        await raw.batch([{ type: 'put', space: 'meta.journal', key: target.key, value, expiresAt: null }], now, {
          results: false,
        });
        const damaged = await dumpAll(raw, now);
        await expectCode(restore.restoreToTime(store, base, now, { now, dryRun: true }), 'CORRUPT');
        await expectCode(restore.restoreToTime(store, base, now, { now }), 'CORRUPT');
        expect(await dumpAll(raw, now)).toEqual(damaged);
        if (offset % 16 === 0) {
          const report = await store.verify();
          expect(report.ok).toBe(false);
          expect(report.issues).toContainEqual(expect.objectContaining({ code: 'CORRUPT', space: 'meta.journal' }));
        }
        flips++;
      }
    }
    expect(flips).toBe(original.length * 2);
    await raw.batch([{ type: 'put', space: 'meta.journal', key: target.key, value: target.value, expiresAt: null }], now);
    const repaired = await dumpAll(raw, now);
    expect(repaired.get('meta.journal')!.get(target.key)!.value).toBe(before.get('meta.journal')!.get(target.key)!.value);
    expect((await store.verify()).ok).toBe(true);
    await restore.restoreToTime(store, base, now, { now }); // intact again: it works
    await store.close();
  });

  it("two entries swapped, or the backup's own last entry deleted: CORRUPT, store unchanged", async () => {
    const clock = testClock();
    const store = await openStore({
      url: `sqlite:${join(dir, 's.db')}`,
      journal: { retention: '7d' },
      sweepInterval: false,
      clock: clock.now,
    });
    const base = await history(store, clock);
    const raw = rawDriver(store);
    const now = clock.now();
    const log = await raw.scan('meta.journal', {}, now);
    const [x, y] = [log[base.journalSeq + 1]!, log[base.journalSeq + 2]!];
    await raw.batch(
      [
        { type: 'put', space: 'meta.journal', key: x.key, value: y.value, expiresAt: null },
        { type: 'put', space: 'meta.journal', key: y.key, value: x.value, expiresAt: null },
      ],
      now,
    );
    const swapped = await dumpAll(raw, now);
    await expectCode(restore.restoreToTime(store, base, now, { now, dryRun: true }), 'CORRUPT');
    await expectCode(restore.restoreToTime(store, base, now, { now }), 'CORRUPT');
    expect(await dumpAll(raw, now)).toEqual(swapped);
    expect((await store.verify()).ok).toBe(false);
    await raw.batch(
      [
        { type: 'put', space: 'meta.journal', key: x.key, value: x.value, expiresAt: null },
        { type: 'put', space: 'meta.journal', key: y.key, value: y.value, expiresAt: null },
      ],
      now,
    );
    const anchor = log[base.journalSeq - 1]!;
    expect(Number(anchor.key)).toBe(base.journalSeq);
    await raw.batch([{ type: 'delete', space: 'meta.journal', key: anchor.key }], now);
    const lacking = await dumpAll(raw, now);
    await expectCode(restore.restoreToTime(store, base, now, { now, dryRun: true }), 'CORRUPT');
    await expectCode(restore.restoreToTime(store, base, now, { now }), 'CORRUPT');
    expect(await dumpAll(raw, now)).toEqual(lacking);
    await store.close();
  });

  it('a damaged import mark: CORRUPT for restore, a CORRUPT issue for verify, store unchanged', async () => {
    const clock = testClock();
    const exportFile = join(dir, 'e.strata');
    const source = await openStore({ url: 'memory:', sweepInterval: false });
    await source.kv('imp').set('x', 1);
    await source.export(exportFile);
    await source.close();
    const store = await openStore({
      url: `sqlite:${join(dir, 's.db')}`,
      journal: { retention: '7d' },
      sweepInterval: false,
      clock: clock.now,
    });
    const base = await history(store, clock);
    await store.import(exportFile);
    clock.tick();
    const raw = rawDriver(store);
    const now = clock.now();
    const [mark] = await raw.scan('meta.journal-loads', {}, now);
    expect(JSON.parse(mark!.value)).toMatchObject({ seq: base.journalSeq + 5, op: 'store.import' });
    for (const value of [
      mark!.value.replace('"seq":', '"seq":1'),
      '{"seq":"x"}',
      'not json',
      mark!.value.replace('"at":', '"at":-0.5'),
    ]) {
      await raw.batch([{ type: 'put', space: 'meta.journal-loads', key: mark!.key, value, expiresAt: null }], now);
      const damaged = await dumpAll(raw, now);
      await expectCode(restore.restoreToTime(store, base, now, { now, dryRun: true }), 'CORRUPT');
      expect(await dumpAll(raw, now)).toEqual(damaged);
      const report = await store.verify();
      expect(report.ok).toBe(false);
      expect(report.issues).toContainEqual(
        expect.objectContaining({ code: 'CORRUPT', space: 'meta.journal-loads', key: mark!.key }),
      );
    }
    await store.close();
  });

  it('bytes flipped in the SQLite file where an entry lies: CORRUPT (never another code, never a restore), data unchanged', async () => {
    const path = join(dir, 's.db');
    const backups = join(dir, 'backups');
    const store = await openStore({ url: `sqlite:${path}`, journal: { retention: '7d' }, sweepInterval: false });
    const kv = store.kv('app');
    for (let i = 0; i < 10; i++) await kv.set(`k${i}`, { i, text: `value number ${i}` });
    await store.backup({ to: backups });
    for (let i = 10; i < 20; i++) await kv.set(`k${i}`, { i, text: `value number ${i}` });
    const raw = rawDriver(store);
    const entry = (await raw.get('meta.journal', '0000000000000015', Date.now()))!;
    const users = await raw.scan('kv.app', {}, Date.now());
    await store.close();
    const pristine = readFileSync(path);
    const at = pristine.indexOf(Buffer.from(entry.value));
    expect(at).toBeGreaterThan(0);
    expect(pristine.indexOf(Buffer.from(entry.value), at + 1)).toBe(-1);
    const codes = new Map<string, number>();
    // Every 3rd byte of the entry's value, cycling through three masks.
    for (let offset = 0; offset < entry.value.length; offset += 3) {
      const bytes = Buffer.from(pristine);
      bytes[at + offset]! ^= [0x01, 0x10, 0x80][offset % 3]!;
      writeFileSync(path, bytes);
      const damaged = await openStore({ url: `sqlite:${path}`, sweepInterval: false });
      const toTime = new Date();
      let code = 'RESOLVED';
      try {
        await damaged.restore(backups, { toTime, dryRun: offset % 2 === 0 });
      } catch (error) {
        code = String((error as { code?: string }).code);
      }
      codes.set(code, (codes.get(code) ?? 0) + 1);
      expect(code, `offset ${offset}`).toBe('CORRUPT');
      expect((await damaged.verify()).ok, `offset ${offset}`).toBe(false);
      expect(await rawDriver(damaged).scan('kv.app', {}, Date.now())).toEqual(users);
      await damaged.close();
    }
    expect([...codes.keys()]).toEqual(['CORRUPT']);
  });
});

describe.each(DRIVERS.filter((d) => d.name !== 'memory'))(
  'no plain text of an encrypted value in the journal on $name',
  ({ url }) => {
    it('not in the entries, the files of the store, nor a backup of it', async () => {
      const backups = join(dir, 'backups');
      const store = await openStore({
        url: url(dir),
        journal: { retention: '7d' },
        sweepInterval: false,
        encryption: { keys: KEYS },
      });
      const secret = store.kv<string>('secret', { encrypt: true });
      const docs = store.collection('people', { encrypt: ['ssn'] });
      for (let i = 0; i < 5; i++) {
        await secret.set(`s${i}`, `CANARY-KV-${i}-7f3a9c`);
        await docs.upsert({ id: `p${i}`, name: `open ${i}`, ssn: `CANARY-SSN-${i}-b21e44` });
      }
      await secret.set('s0', 'CANARY-KV-updated-7f3a9c');
      await secret.delete('s1');
      await docs.update('p2', { ssn: 'CANARY-SSN-updated-b21e44' });
      await store.transaction(async (tx) => tx.kv('secret').set('tx', 'CANARY-KV-tx-7f3a9c'));
      await store.backup({ to: backups });
      const log = await rawDriver(store).scan('meta.journal', {}, Date.now());
      expect(log.length).toBeGreaterThanOrEqual(14);
      for (const r of log) expect(r.value).not.toMatch(/CANARY/);
      expect(log.map((r) => r.value).join('')).toMatch(/open 3/); // plain fields stay readable: the scan looks at the right bytes
      await store.close();
      const files = (root: string): string[] =>
        readdirSync(root).flatMap((name) =>
          statSync(join(root, name)).isDirectory() ? files(join(root, name)) : [join(root, name)],
        );
      let scanned = 0;
      for (const file of files(dir)) {
        const bytes = readFileSync(file);
        const text = file.endsWith('.gz') ? gunzipSync(bytes) : bytes;
        expect(text.includes('CANARY'), file).toBe(false);
        scanned += text.length;
      }
      expect(scanned).toBeGreaterThan(10_000);
    });
  },
);
