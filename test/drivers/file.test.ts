import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChangeEvent, Driver, WriteOp } from '../../src/drivers/driver.js';
import { fileDriver, fileInternals } from '../../src/drivers/file/index.js';
import type { FileDriverOptions } from '../../src/drivers/file/index.js';
import { snapshotFileName } from '../../src/drivers/file/snapshot.js';
import type { JournalHeader } from '../../src/drivers/file/journal.js';
import { encodeHeader } from '../../src/drivers/file/journal.js';
import { eventsSince, journalMark, loadImage } from '../../src/drivers/file/image.js';
import { StrataError } from '../../src/errors.js';
import { sealSmallRecord } from '../../src/drivers/file/small-record.js';

const root = mkdtempSync(join(tmpdir(), 'strata-file-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = (): string => join(root, `case-${++counter}`, 'store');
const NOW = Date.UTC(2026, 0, 1);

const open = (dir: string, options: Partial<FileDriverOptions> = {}) => fileDriver({ dir, ...options });
const put = (key: string, value: unknown, extra: Partial<Extract<WriteOp, { type: 'put' }>> = {}): WriteOp => ({
  type: 'put',
  space: 'app',
  key,
  value: JSON.stringify(value),
  expiresAt: null,
  ...extra,
});
const value = async (d: Driver, key: string, space = 'app'): Promise<unknown> => {
  const r = await d.get(space, key, NOW);
  return r === null ? null : JSON.parse(r.value);
};
const journal = (dir: string): string => join(dir, 'journal.log');
const lines = (dir: string): string[] => readFileSync(journal(dir), 'utf8').split('\n');

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return StrataError.is(error) ? error.code : `not a StrataError: ${String(error)}`;
  }
  return undefined;
}

/** Writes `n` batches of one put each, one after another (so each is its own journal line). */
async function writeSerially(d: Driver, n: number, prefix = 'k'): Promise<void> {
  for (let i = 0; i < n; i++) await d.batch([put(`${prefix}${i}`, { i, pad: 'x'.repeat(40) })], NOW);
}

const until = async (test: () => boolean, ms = 3_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('file driver: persistence and format', () => {
  it('keeps data, versions, expiry and deletions across reopen', async () => {
    const dir = freshDir();
    const a = open(dir);
    await a.batch([put('a', { n: 1 }), put('b', 'two'), put('gone', 1)], NOW);
    await a.batch([put('a', { n: 2 }), { type: 'delete', space: 'app', key: 'gone' }], NOW + 1);
    await a.batch([put('ttl', 1, { expiresAt: NOW + 1000, space: 'other' })], NOW);
    await a.close();
    const b = open(dir);
    expect(await b.get('app', 'a', NOW)).toMatchObject({ value: '{"n":2}', version: 2, createdAt: NOW, updatedAt: NOW + 1 });
    expect(await value(b, 'b')).toBe('two');
    expect(await b.get('app', 'gone', NOW)).toBeNull();
    expect(await b.get('other', 'ttl', NOW)).not.toBeNull();
    expect(await b.get('other', 'ttl', NOW + 1000)).toBeNull();
    expect(await b.spaces()).toEqual(['app', 'other']);
    await b.close();
  });

  it('writes snapshots as readable JSON with the values embedded, and a checksummed journal', async () => {
    const dir = freshDir();
    const d = open(dir);
    await d.batch([put('user:1', { name: 'Ada', tags: ['x'] }), put('__proto__', { sneaky: true })], NOW);
    await d.ensureSpace('Tasks', {});
    await d.ensureSpace('tasks', {});
    await d.batch([put('t', 1, { space: 'Tasks' }), put('t', 2, { space: 'tasks' })], NOW);
    // Before compaction everything is in the journal, one line per batch, values embedded.
    const [header, first] = lines(dir);
    expect(header).toMatch(/^[0-9a-f]{8} \{"format":"strata-file\/1","generation":"[0-9a-f]+","base":0,/);
    expect(first).toContain('"value":{"name":"Ada","tags":["x"]}');
    await d.close(); // folds the small journal into snapshots
    const snapshot = JSON.parse(readFileSync(join(dir, 'app.json'), 'utf8'));
    expect(snapshot).toMatchObject({
      format: 'strata-file/2',
      space: 'app',
      seq: expect.any(Number),
      count: 2,
      checksum: expect.stringMatching(/^[0-9a-f]{8}$/),
    });
    expect(snapshot.records['user:1']).toEqual({
      value: { name: 'Ada', tags: ['x'] },
      version: 1,
      createdAt: NOW,
      updatedAt: NOW,
      expiresAt: null,
      crc: expect.stringMatching(/^[0-9a-f]{8}$/),
    });
    expect(readFileSync(join(dir, 'app.json'), 'utf8')).toContain('\n    "user:1": {\n      "value": {\n        "name": "Ada"');
    // Case-insensitive file systems must not merge spaces that differ only in case.
    expect(snapshotFileName('Tasks')).not.toBe(snapshotFileName('tasks'));
    expect(existsSync(join(dir, snapshotFileName('Tasks')))).toBe(true);
    expect(lines(dir).filter(Boolean)).toHaveLength(1); // only the new header
    const again = open(dir);
    expect(await value(again, '__proto__')).toEqual({ sneaky: true });
    expect(await value(again, 't', 'Tasks')).toBe(1);
    expect(await value(again, 't', 'tasks')).toBe(2);
    await again.close();
  });

  it('escapes space names into safe single file names', () => {
    expect(snapshotFileName('app')).toBe('app.json');
    expect(snapshotFileName('app.v2-x_y')).toBe('app.v2-x_y.json');
    expect(snapshotFileName('.hidden')).toBe('%2Ehidden.json');
    expect(snapshotFileName('a/b\\c')).toBe('a%2Fb%5Cc.json');
    expect(snapshotFileName('CON')).not.toBe(snapshotFileName('con'));
    expect(snapshotFileName('con')).toBe('%63on.json');
    expect(snapshotFileName('A'.repeat(128)).length).toBeLessThan(255);
  });

  it('creates the directory 0700 and every file 0600', async () => {
    if (process.platform === 'win32') return;
    const dir = freshDir();
    const d = open(dir);
    await d.batch([put('a', 1)], NOW);
    await d.close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const files = readdirSync(dir);
    expect(files.sort()).toEqual(['app.json', 'journal.log']);
    for (const f of files) expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
  });

  it('persists declared spaces and purges expired records through the journal', async () => {
    const dir = freshDir();
    const a = open(dir);
    await a.ensureSpace('empty', {});
    await a.batch([put('old', 1, { expiresAt: NOW + 10 }), put('keep', 2)], NOW);
    expect(await a.purgeExpired(NOW + 10)).toBe(1);
    expect(await a.purgeExpired(NOW + 10)).toBe(0);
    const b = open(dir); // a second instance replays the journal
    expect(await b.spaces()).toEqual(['app', 'empty']);
    expect((await b.stats()).spaces.find((s) => s.space === 'app')?.records).toBe(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('reports stats with sizes and location, and verifies a healthy store', async () => {
    const dir = freshDir();
    const d = open(dir);
    await d.batch([put('a', 'xyz'), put('b', 1, { space: 'b' })], NOW);
    const stats = await d.stats();
    expect(stats).toMatchObject({ driver: 'file', location: dir });
    expect(stats.storageBytes).toBe(statSync(journal(dir)).size);
    expect(stats.spaces).toContainEqual({ space: 'app', records: 1, expired: 0, bytes: 1 + '"xyz"'.length });
    expect(await d.verify()).toEqual({ ok: true, checked: 1, issues: [] });
    await (await d[fileInternals]()).compact();
    expect(await d.verify()).toEqual({ ok: true, checked: 2, issues: [] });
    await d.close();
  });

  it('rejects every call after close with CLOSED, and close is idempotent', async () => {
    const d = open(freshDir());
    await d.batch([put('a', 1)], NOW);
    await Promise.all([d.close(), d.close()]);
    await d.close();
    expect(await codeOf(d.get('app', 'a', NOW))).toBe('CLOSED');
    expect(await codeOf(d.batch([put('a', 2)], NOW))).toBe('CLOSED');
    expect(await codeOf(d.stats())).toBe('CLOSED');
    expect(() => d.watch(() => {})).toThrow(StrataError);
    // Never opened: close is fine and calls are refused.
    const never = open(freshDir());
    await never.close();
    expect(await codeOf(never.spaces())).toBe('CLOSED');
  });

  it('finishes writes already issued when close is called', async () => {
    const dir = freshDir();
    const d = open(dir);
    await d.spaces();
    const writes = Array.from({ length: 20 }, (_, i) => d.batch([put(`k${i}`, i)], NOW));
    await d.close();
    await Promise.all(writes);
    const again = open(dir);
    expect(await again.count('app', {}, NOW)).toBe(20);
    await again.close();
  });
});

describe('file driver: crashes and damage', () => {
  it('drops a torn final line (half a batch) and keeps every complete batch', async () => {
    const dir = freshDir();
    const a = open(dir);
    await writeSerially(a, 5);
    await a.batch([put('last', 'complete')], NOW);
    // Simulate a crash: the store is abandoned without close, then half a line is appended.
    const sizeBefore = statSync(journal(dir)).size;
    const half = lines(dir)[3]!.slice(0, 30);
    appendFileSync(journal(dir), half);
    const b = open(dir);
    expect(await b.count('app', {}, NOW)).toBe(6);
    expect(await value(b, 'last')).toBe('complete');
    expect(statSync(journal(dir)).size).toBe(sizeBefore); // truncated away under the lock
    expect((await b[fileInternals]()).counters.truncations).toBe(1);
    await b.batch([put('after', 1)], NOW); // appends cleanly after the cut
    await Promise.all([a.close(), b.close()]);
    const c = open(dir);
    expect(await c.count('app', {}, NOW)).toBe(7);
    await c.close();
  });

  it('refuses a complete last line that fails its checksum with CORRUPT, leaving the journal as it was', async () => {
    const dir = freshDir();
    const a = open(dir);
    await writeSerially(a, 3);
    const all = lines(dir);
    const last = all[all.length - 2]!;
    const damaged = last.replace('"i":2', '"i":9');
    writeFileSync(journal(dir), `${all.slice(0, -2).join('\n')}\n${damaged}\n`);
    const before = readFileSync(journal(dir));
    const b = open(dir);
    expect(await codeOf(b.count('app', {}, NOW))).toBe('CORRUPT');
    expect((await b.verify()).ok).toBe(false);
    await b.close();
    // A writer refuses it too, and cuts nothing off.
    const w = open(dir);
    expect(await codeOf(w.batch([put('z', 1)], NOW))).toBe('CORRUPT');
    await w.close();
    expect(readFileSync(journal(dir)).equals(before)).toBe(true);
    // The last newline damaged (the line then looks incomplete): still CORRUPT, not a torn write.
    const c = open(dir);
    writeFileSync(journal(dir), `${all.slice(0, -2).join('\n')}\n${last}!`);
    const cut = readFileSync(journal(dir));
    expect(await codeOf(c.count('app', {}, NOW))).toBe('CORRUPT');
    expect(readFileSync(journal(dir)).equals(cut)).toBe(true);
    await Promise.all([a.close(), c.close()]);
  });

  it('refuses to open with CORRUPT when a damaged line has complete batches after it', async () => {
    const dir = freshDir();
    const a = open(dir);
    await writeSerially(a, 5);
    await a.close();
    // close compacted; write more so the journal has several lines, then damage the middle one.
    const b = open(dir, { compactBytes: 1 << 30 });
    await writeSerially(b, 5, 'm');
    const all = lines(dir);
    all[2] = all[2]!.replace('"i":1', '"i":7');
    writeFileSync(journal(dir), all.join('\n'));
    // verify on the open instance re-reads the files and reports the damage.
    const report = await b.verify();
    expect(report.ok).toBe(false);
    expect(report.issues[0]).toMatchObject({ code: 'CORRUPT' });
    expect(report.issues[0]!.message).toContain('journal.log');
    const c = open(dir);
    const error = await c.get('app', 'm1', NOW).catch((e: unknown) => e);
    expect(StrataError.is(error, 'CORRUPT')).toBe(true);
    expect((error as StrataError).hint).toMatch(/backup|verify/);
    expect((error as StrataError).details?.file).toBe(journal(dir));
    // A store too damaged to open can still be verified.
    expect((await c.verify()).issues[0]).toMatchObject({ code: 'CORRUPT' });
    await Promise.all([b.close(), c.close()]);
  });

  it('refuses to open with CORRUPT when a snapshot is garbled, truncated or missing', async () => {
    const dir = freshDir();
    const a = open(dir);
    await writeSerially(a, 20);
    await a.close();
    const file = join(dir, 'app.json');
    const good = readFileSync(file, 'utf8');
    const cases: Array<[string, () => void]> = [
      ['truncated', () => writeFileSync(file, good.slice(0, good.length / 2))],
      ['garbled', () => writeFileSync(file, good.replace('"records"', '"rec\u0000rds"').replace('{', '['))],
      [
        'wrong shape',
        () =>
          writeFileSync(file, JSON.stringify({ format: 'strata-file/1', space: 'app', seq: 0, records: { k: { value: 1 } } })),
      ],
      ['missing', () => rmSync(file)],
    ];
    for (const [what, damage] of cases) {
      damage();
      const d = open(dir);
      const error = await d.spaces().catch((e: unknown) => e);
      expect(StrataError.is(error, 'CORRUPT'), what).toBe(true);
      expect((error as StrataError).details?.file, what).toBe(file);
      const report = await d.verify();
      expect(
        report.issues.map((i) => i.space),
        what,
      ).toEqual(['app']);
      await d.close();
      writeFileSync(file, good);
    }
    const healed = open(dir);
    expect(await healed.count('app', {}, NOW)).toBe(20);
    await healed.close();
  });

  it('refuses a directory whose journal was lost but snapshots remain', async () => {
    const dir = freshDir();
    const a = open(dir);
    await writeSerially(a, 2);
    await a.close();
    rmSync(journal(dir));
    expect(await codeOf(open(dir).spaces())).toBe('CORRUPT');
  });

  it('loses nothing when a compaction crashed after writing snapshots but before replacing the journal', async () => {
    const dir = freshDir();
    const a = open(dir, { compactBytes: 1 << 30 });
    await writeSerially(a, 10);
    await a.batch([put('n', 1, { space: 'newspace' }), { type: 'delete', space: 'app', key: 'k3' }], NOW);
    await a.batch([put('k0', 'updated')], NOW);
    const oldJournal = readFileSync(journal(dir));
    await (await a[fileInternals]()).compact();
    await a.close();
    writeFileSync(journal(dir), oldJournal); // the rename of the new journal never happened
    const b = open(dir);
    expect(await b.count('app', {}, NOW)).toBe(9);
    expect(await value(b, 'k0')).toBe('updated');
    expect(await value(b, 'n', 'newspace')).toBe(1);
    expect((await b.get('app', 'k0', NOW))?.version).toBe(2);
    await b.batch([put('k0', 'again')], NOW);
    await b.close();
    const c = open(dir);
    expect((await c.get('app', 'k0', NOW))?.version).toBe(3);
    expect((await c.verify()).ok).toBe(true);
    await c.close();
  });

  it('compacts past the threshold, keeps everything, and replays later writes on reopen', async () => {
    const dir = freshDir();
    const a = open(dir, { compactBytes: 2048 });
    await writeSerially(a, 200);
    for (let i = 0; i < 200; i += 3) await a.batch([{ type: 'delete', space: 'app', key: `k${i}` }], NOW);
    await a.batch([put('k1', 'changed')], NOW);
    const internals = await a[fileInternals]();
    await until(() => internals.counters.compactions > 0);
    expect(lines(dir).length).toBeLessThan(200);
    const b = open(dir, { compactBytes: 1 << 30 });
    expect(await b.count('app', {}, NOW)).toBe(133);
    await a.batch([put('after', 1)], NOW);
    expect(await value(b, 'after')).toBe(1);
    await Promise.all([a.close(), b.close()]);
    const c = open(dir);
    expect(await c.count('app', {}, NOW)).toBe(134);
    expect(await value(c, 'k1')).toBe('changed');
    expect((await c.verify()).ok).toBe(true);
    await c.close();
  });
});

describe('file driver: several instances on one directory', () => {
  it("see each other's writes and detect conflicts across instances", async () => {
    const dir = freshDir();
    const a = open(dir);
    const b = open(dir);
    await a.batch([put('x', 1)], NOW);
    expect(await b.get('app', 'x', NOW)).toMatchObject({ version: 1 });
    await b.batch([put('x', 2, { expect: 1 })], NOW);
    expect(await codeOf(a.batch([put('x', 3, { expect: 1 })], NOW))).toBe('CONFLICT');
    expect(await value(a, 'x')).toBe(2);
    await a.batch([put('x', 3, { expect: 2 })], NOW);
    expect(await value(b, 'x')).toBe(3);
    expect(await codeOf(b.batch([{ type: 'check', space: 'app', key: 'x', expect: 2 }, put('y', 1)], NOW))).toBe('CONFLICT');
    expect(await b.get('app', 'y', NOW)).toBeNull();
    await Promise.all([a.close(), b.close()]);
  });

  it('lose no increment when both write concurrently', async () => {
    const dir = freshDir();
    const [a, b] = [open(dir, { durability: 'normal' }), open(dir, { durability: 'normal' })];
    const incr = async (d: Driver): Promise<void> => {
      for (;;) {
        const cur = await d.get('app', 'n', NOW);
        try {
          await d.batch([put('n', (cur ? Number(cur.value) : 0) + 1, { expect: cur?.version ?? 0 })], NOW);
          return;
        } catch (error) {
          if (!StrataError.is(error, 'CONFLICT')) throw error;
        }
      }
    };
    await Promise.all(
      [a, b].map(async (d) => {
        for (let i = 0; i < 100; i++) await incr(d);
      }),
    );
    expect(await value(a, 'n')).toBe(200);
    expect(await value(b, 'n')).toBe(200);
    await Promise.all([a.close(), b.close()]);
  });

  it('follow compactions made by another instance, and reload after missing several', async () => {
    const dir = freshDir();
    const a = open(dir, { compactBytes: 1 << 30 });
    const b = open(dir, { compactBytes: 1 << 30 });
    await writeSerially(a, 5);
    expect(await b.count('app', {}, NOW)).toBe(5);
    await a.batch([put('k9', 'before')], NOW);
    await (await a[fileInternals]()).compact();
    await a.batch([put('k8', 'after')], NOW);
    expect(await value(b, 'k9')).toBe('before');
    expect(await value(b, 'k8')).toBe('after');
    const bi = await b[fileInternals]();
    expect(bi.counters.reloads).toBe(0); // read the rest of the old journal, went on in the new one
    await (await a[fileInternals]()).compact();
    await a.batch([put('k7', 'x')], NOW);
    await (await a[fileInternals]()).compact();
    await a.batch([{ type: 'delete', space: 'app', key: 'k0' }], NOW);
    await (await a[fileInternals]()).compact();
    const events: ChangeEvent[] = [];
    const stop = b.watch((e) => events.push(e));
    expect(await b.count('app', {}, NOW)).toBe(7);
    expect(await value(b, 'k7')).toBe('x');
    expect(bi.counters.reloads).toBe(1);
    // The batches it missed are folded into snapshots: a reset says so, instead of a diff.
    expect(events).toEqual([{ space: 'app', key: '', type: 'reset', version: null, origin: 'remote' }]);
    stop();
    await Promise.all([a.close(), b.close()]);
  });

  it('keep writing while another compacts: lines appended during a compaction move to the new journal', async () => {
    const dir = freshDir();
    const a = open(dir, { compactBytes: 1 << 30 });
    const b = open(dir, { compactBytes: 1 << 30 });
    await writeSerially(a, 50);
    await b.spaces();
    const compacting = (await a[fileInternals]()).compact();
    const writing = (async () => {
      await writeSerially(b, 20, 'b');
      for (let i = 0; i < 5; i++) await b.batch([put(`o${i}`, i, { space: 'other' })], NOW);
    })();
    await Promise.all([writing, compacting]);
    await a.batch([put('k0', 'after')], NOW);
    expect((await a[fileInternals]()).counters.compactions).toBe(1);
    expect(await b.count('app', {}, NOW)).toBe(70);
    expect(await value(b, 'k0')).toBe('after');
    expect((await b.verify()).ok).toBe(true);
    // b went on in a's new journal; what it wrote during a's compaction is still its to fold.
    await (await b[fileInternals]()).compact();
    expect((await b[fileInternals]()).counters.reloads).toBe(0);
    await Promise.all([a.close(), b.close()]);
    const c = open(dir);
    expect(await c.count('app', {}, NOW)).toBe(70);
    expect(await c.count('other', {}, NOW)).toBe(5);
    expect((await c.get('app', 'k0', NOW))?.version).toBe(2);
    expect((await c.verify()).ok).toBe(true);
    await c.close();
  });

  it("watch reports local changes as 'local' and another instance's as 'remote' without local activity", async () => {
    const dir = freshDir();
    const a = open(dir);
    const b = open(dir);
    await Promise.all([a.spaces(), b.spaces()]);
    const seen: ChangeEvent[] = [];
    const stop = b.watch((e) => seen.push(e));
    await b.batch([put('mine', 1)], NOW);
    await a.batch([put('theirs', { v: 1 }), { type: 'delete', space: 'app', key: 'mine' }], NOW);
    await until(() => seen.length >= 3);
    expect(seen).toEqual([
      { space: 'app', key: 'mine', type: 'put', version: 1, value: '1', origin: 'local' },
      { space: 'app', key: 'theirs', type: 'put', version: 1, value: '{"v":1}', origin: 'remote' },
      { space: 'app', key: 'mine', type: 'delete', version: null, origin: 'remote' },
    ]);
    stop();
    await Promise.all([a.close(), b.close()]);
  });
});

describe('file driver: watching before the store is open', () => {
  it('reports what other instances committed between watch() and the open', async () => {
    const dir = freshDir();
    const a = open(dir);
    await a.batch([put('before', 1)], NOW);
    const b = open(dir);
    const seen: string[] = [];
    const stop = b.watch((e) => seen.push(`${e.type}:${e.key}:${e.origin}`));
    await a.batch([put('x', 1)], NOW);
    expect(await value(b, 'x')).toBe(1);
    expect(seen).toEqual(['put:x:remote']);
    stop();
    await Promise.all([a.close(), b.close()]);
  });
});

describe('file driver: group commit', () => {
  it('shares one append and one fsync among batches issued together', async () => {
    const d = open(freshDir());
    await d.spaces();
    const internals = await d[fileInternals]();
    const before = { ...internals.counters };
    await Promise.all(Array.from({ length: 200 }, (_, i) => d.batch([put(`k${i}`, i)], NOW)));
    const appends = internals.counters.appends - before.appends;
    const fsyncs = internals.counters.fsyncs - before.fsyncs;
    expect(internals.counters.batches - before.batches).toBe(200);
    expect(appends).toBeLessThanOrEqual(5);
    expect(fsyncs).toBe(appends);
    expect(await d.count('app', {}, NOW)).toBe(200);
    await d.close();
  });

  it('checks each batch of a group in order: a conflict fails only its own batch', async () => {
    const dir = freshDir();
    const d = open(dir);
    await d.batch([put('x', 0)], NOW);
    const results = await Promise.allSettled([
      d.batch([put('x', 1, { expect: 1 })], NOW),
      d.batch([put('x', 2, { expect: 1 })], NOW), // stale: the first moved x to version 2
      d.batch([put('x', 3, { expect: 2 }), put('y', 1)], NOW),
      d.batch([{ type: 'delete', space: 'app', key: 'nope', expect: 1 }], NOW),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    expect(StrataError.is((results[1] as PromiseRejectedResult).reason, 'CONFLICT')).toBe(true);
    expect(await d.get('app', 'x', NOW)).toMatchObject({ value: '3', version: 3 });
    await d.close();
    const again = open(dir);
    expect(await again.get('app', 'x', NOW)).toMatchObject({ value: '3', version: 3 });
    expect(await value(again, 'y')).toBe(1);
    await again.close();
  });

  it("does not fsync with durability 'normal'", async () => {
    const d = open(freshDir(), { durability: 'normal' });
    await writeSerially(d, 10);
    expect((await d[fileInternals]()).counters).toMatchObject({ fsyncs: 0, appends: 10 });
    await d.close();
  });

  it('refuses value text that is not JSON without writing anything', async () => {
    const dir = freshDir();
    const d = open(dir);
    const bad: WriteOp = { type: 'put', space: 'app', key: 'k', value: '{not json\n', expiresAt: null };
    expect(await codeOf(d.batch([bad], NOW))).toBe('BAD_INPUT');
    expect(await codeOf(d.batch([put('k', 1)], Number.NaN))).toBe('BAD_INPUT');
    expect(lines(dir).filter(Boolean)).toHaveLength(1);
    await d.close();
  });
});

describe('file driver: the cross-process lock', () => {
  const lockFile = (dir: string): string => join(dir, 'strata.lock');

  it('times out with LOCKED while a live process holds it', async () => {
    const dir = freshDir();
    const a = open(dir);
    await a.batch([put('a', 1)], NOW);
    writeFileSync(lockFile(dir), sealSmallRecord({ pid: process.ppid, host: hostname(), token: 'other', at: Date.now() }));
    const b = open(dir, { lockTimeoutMs: 150 });
    const started = Date.now();
    const error = await b.spaces().catch((e: unknown) => e);
    expect(StrataError.is(error, 'LOCKED')).toBe(true);
    expect((error as StrataError).message).toContain(String(process.ppid));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    // Reads of an open store need no lock; writes do.
    expect(await value(a, 'a')).toBe(1);
    rmSync(lockFile(dir));
    expect(await b.spaces()).toEqual(['app']); // a failed open is retried
    await Promise.all([a.close(), b.close()]);
  });

  it('takes over a lock whose owner process is dead', async () => {
    const dir = freshDir();
    const a = open(dir);
    await a.batch([put('a', 1)], NOW);
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(lockFile(dir), sealSmallRecord({ pid: dead, host: hostname(), token: 'crashed', at: Date.now() }));
    await a.batch([put('b', 2)], NOW);
    expect((await a[fileInternals]()).lockStats.brokeStale).toBe(1);
    expect(existsSync(lockFile(dir))).toBe(false);
    // An empty lock file left by a writer that died between create and write is stale once old.
    writeFileSync(lockFile(dir), '');
    const old = new Date(Date.now() - 60_000);
    (await import('node:fs')).utimesSync(lockFile(dir), old, old);
    await a.batch([put('c', 3)], NOW);
    expect(await a.count('app', {}, NOW)).toBe(3);
    await a.close();
  });

  it('removes owner records left by dead processes once the store opened soundly', async () => {
    const dir = freshDir();
    const a = open(dir);
    await a.batch([put('a', 1)], NOW);
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const debris = join(dir, 'strata.lock.0123456789abcdef01234567.owner');
    writeFileSync(debris, sealSmallRecord({ pid: dead, host: hostname(), token: '0123456789abcdef01234567', at: Date.now() }));
    const b = open(dir);
    await b.spaces();
    expect(existsSync(debris)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.owner'))).toHaveLength(2); // a's and b's
    await Promise.all([a.close(), b.close()]);
    expect(readdirSync(dir).filter((f) => f.startsWith('strata.lock'))).toEqual([]);
  });

  it('serializes writers of two instances without leaving a lock behind', async () => {
    const dir = freshDir();
    const a = open(dir);
    const b = open(dir);
    await Promise.all([writeSerially(a, 30, 'a'), writeSerially(b, 30, 'b')]);
    expect(await a.count('app', {}, NOW)).toBe(60);
    expect(existsSync(lockFile(dir))).toBe(false);
    await Promise.all([a.close(), b.close()]);
    expect(readdirSync(dir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });
});

describe('file driver: snapshot checksums and formats', () => {
  /** A store closed with one compacted snapshot of `app` (s1, s2, s3). */
  async function compactedStore(): Promise<{ dir: string; file: string; text: string }> {
    const dir = freshDir();
    const a = open(dir);
    await a.batch([put('s1', 'one'), put('s2', { n: 2 }), put('s3', [3])], NOW);
    await a.close();
    const file = join(dir, 'app.json');
    return { dir, file, text: readFileSync(file, 'utf8') };
  }

  async function errorOf(dir: string): Promise<StrataError> {
    const d = open(dir);
    try {
      const error = await d.spaces().catch((e: unknown) => e);
      expect(StrataError.is(error)).toBe(true);
      return error as StrataError;
    } finally {
      await d.close();
    }
  }

  it('names the file, space and key of a record that fails its checksum, on open and in verify', async () => {
    const { dir, file, text } = await compactedStore();
    writeFileSync(file, text.replace('"s1"', '"S1"'));
    const before = readFileSync(file);
    const error = await errorOf(dir);
    expect(error.code).toBe('CORRUPT');
    expect(error.details).toMatchObject({ file, space: 'app', key: 'S1' });
    const d = open(dir);
    const report = await d.verify();
    await d.close();
    expect(report.ok).toBe(false);
    expect(report.issues).toContainEqual(expect.objectContaining({ code: 'CORRUPT', space: 'app', key: 'S1' }));
    expect(readFileSync(file).equals(before)).toBe(true);
    // A changed value, a changed version, a removed record: each is caught.
    for (const damaged of [
      text.replace('"one"', '"onE"'),
      text.replace('"version": 1', '"version": 2'),
      text.replace(/"s3": \{[^}]*\}/, '"s1": {}').replace(/,\n\s*"s1": \{\}/, ''),
    ]) {
      writeFileSync(file, damaged);
      expect((await errorOf(dir)).code).toBe('CORRUPT');
    }
  });

  it('treats a damaged format string as CORRUPT and only a well-formed newer one as UNSUPPORTED', async () => {
    const { dir, file, text } = await compactedStore();
    // Ours with the format damaged, even into a well-formed newer or the older format: CORRUPT.
    for (const format of ['strata-file/3', 'strata-file/1', 'strata-file/0', 'strata-file/x', 'strata-fil/2', 'strata-file/02']) {
      writeFileSync(file, text.replace('"strata-file/2"', JSON.stringify(format)));
      expect((await errorOf(dir)).code, format).toBe('CORRUPT');
    }
    // A genuinely newer snapshot (it does not check out as ours): UNSUPPORTED, with an upgrade hint.
    writeFileSync(file, JSON.stringify({ format: 'strata-file/9', space: 'app', chunks: ['app.0.bin'] }));
    const newer = await errorOf(dir);
    expect(newer.code).toBe('UNSUPPORTED');
    expect(newer.hint).toMatch(/upgrade stratadb/);
    writeFileSync(file, text);
    // The journal header: a newer format is UNSUPPORTED, a damaged one CORRUPT.
    const log = readFileSync(journal(dir), 'utf8');
    const [headerLine, ...rest] = log.split('\n');
    const header = JSON.parse(headerLine!.slice(9)) as JournalHeader;
    for (const [format, code] of [
      ['strata-file/7', 'UNSUPPORTED'],
      ['strata-flie/1', 'CORRUPT'],
      ['strata-file/', 'CORRUPT'],
    ] as const) {
      writeFileSync(journal(dir), Buffer.concat([encodeHeader({ ...header, format }), Buffer.from(rest.join('\n'))]));
      expect((await errorOf(dir)).code, format).toBe(code);
    }
    writeFileSync(journal(dir), log.replace('strata-file/1', 'strata-file/7')); // fails its checksum
    expect((await errorOf(dir)).code).toBe('CORRUPT');
    writeFileSync(journal(dir), log);
    const healed = open(dir);
    expect(await healed.count('app', {}, NOW)).toBe(3);
    await healed.close();
  });

  it('reads an old strata-file/1 snapshot (no checksums) and rewrites it with checksums when closed', async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const record = { value: { old: true }, version: 3, createdAt: NOW, updatedAt: NOW + 1, expiresAt: null };
    writeFileSync(
      join(dir, 'app.json'),
      JSON.stringify({ format: 'strata-file/1', space: 'app', seq: 4, records: { legacy: record } }, null, 2),
    );
    writeFileSync(
      journal(dir),
      encodeHeader({ format: 'strata-file/1', generation: 'abc', base: 4, spaces: ['app'], createdAt: NOW }),
    );
    const d = open(dir);
    expect(await d.get('app', 'legacy', NOW)).toMatchObject({ value: '{"old":true}', version: 3, updatedAt: NOW + 1 });
    expect((await d.verify()).ok).toBe(true);
    await d.close();
    const rewritten = JSON.parse(readFileSync(join(dir, 'app.json'), 'utf8'));
    expect(rewritten).toMatchObject({
      format: 'strata-file/2',
      count: 1,
      records: { legacy: { ...record, crc: expect.any(String) } },
    });
    const again = open(dir);
    expect((await again.get('app', 'legacy', NOW))?.version).toBe(3);
    await again.close();
    // An old-format snapshot that carries checksums had its format string damaged.
    writeFileSync(join(dir, 'app.json'), readFileSync(join(dir, 'app.json'), 'utf8').replace('strata-file/2', 'strata-file/1'));
    expect((await errorOf(dir)).code).toBe('CORRUPT');
  });

  it('verify reads every file of the directory, not only the snapshots the journal lists', async () => {
    const { dir, text } = await compactedStore();
    const old = new Date(Date.now() - 60_000);
    // A snapshot of a space the header does not list (as a crashed compaction leaves), damaged.
    writeFileSync(join(dir, snapshotFileName('kv.other')), text.replaceAll('"app"', '"kv.other"'));
    writeFileSync(join(dir, 'notes.json'), '{"mine": true}\n');
    writeFileSync(join(dir, 'strata.lock.0123abcd.owner'), '{"pid": 12');
    utimesSync(join(dir, 'strata.lock.0123abcd.owner'), old, old);
    writeFileSync(join(dir, 'strata.compacting'), 'garbage');
    writeFileSync(join(dir, '.tmp-999999-00aa-app.json'), '{"half');
    const d = open(dir);
    expect(await d.count('app', {}, NOW)).toBe(3); // none of them is read to open the store
    // A damaged owner record names nobody and holds no data: the open (lock held) removes it.
    expect(existsSync(join(dir, 'strata.lock.0123abcd.owner'))).toBe(false);
    writeFileSync(join(dir, 'strata.lock.4567cdef.owner'), '{"pid": 12'); // one damaged after the open
    const report = await d.verify();
    await d.close();
    expect(report.ok).toBe(false);
    const named = report.issues.map((i) => `${i.code} ${i.message.split(':')[0]!.split('/').pop()} ${i.space ?? '-'}`);
    expect(named.sort()).toEqual([
      'CORRUPT kv.other.json kv.other',
      'CORRUPT notes.json -',
      'CORRUPT strata.compacting -',
      'CORRUPT strata.lock.4567cdef.owner -',
    ]);
    // A sound unlisted snapshot is a crashed compaction's leftover, not damage; temps are debris.
    for (const name of ['notes.json', 'strata.lock.4567cdef.owner', 'strata.compacting']) rmSync(join(dir, name));
    const other = open(dir);
    await other.batch([put('o', 1, { space: 'kv.other' })], NOW);
    await (await other[fileInternals]()).compact();
    await other.close();
    const clean = open(dir);
    expect(await clean.verify()).toMatchObject({ ok: true, issues: [] });
    await clean.close();
  });

  it('a listener that watched before the open gets a reset when a compaction folded what it missed', async () => {
    // watch() opens the store at once, so the window between the mark and the load is
    // reproduced here with the two steps the driver runs.
    const dir = freshDir();
    const a = open(dir, { compactBytes: 1 << 30 });
    await a.batch([put('before', 1)], NOW);
    const mark = journalMark(dir);
    await a.batch([put('x', 1), put('y', 1, { space: 'other' })], NOW);
    await a.batch([{ type: 'delete', space: 'app', key: 'x' }], NOW);
    const sameJournal = await loadImage(dir, 'file', true);
    closeSync(sameJournal.fd);
    expect(eventsSince(sameJournal, mark).reset).toEqual([]);
    expect(eventsSince(sameJournal, mark).entries).toHaveLength(2);
    await (await a[fileInternals]()).compact();
    const image = await loadImage(dir, 'file', true);
    closeSync(image.fd);
    expect(eventsSince(image, mark)).toEqual({ entries: [], reset: ['app', 'other'] });
    await a.close();
  });
});
