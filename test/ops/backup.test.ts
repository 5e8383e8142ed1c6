// store.backup / restore / backups.list / verify / prune: exactness on every driver,
// damaged and truncated backups refused with the live store unchanged, retention, bad input.
import { mkdir, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/index.js';
import { sqliteConnection } from '../../src/drivers/sqlite.js';
import { bottomDriver } from '../../src/ops/image.js';
import { rawDump } from '../../src/testing/backup-suite.js';
import { expectCode } from '../conformance/index.js';

const KEYS = `k1:${Buffer.alloc(32, 9).toString('base64')}`;
const SECRET = 'the-plaintext-secret-7d2e';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-backup-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const urlFor = (kind: string): string =>
  kind === 'sqlite' ? `sqlite:${join(dir, 'app.db')}` : kind === 'file' ? `file:${join(dir, 'app')}` : 'memory:';

async function fill(store: Store, n = 50): Promise<void> {
  const kv = store.kv<number>('counts');
  await kv.setMany(Array.from({ length: n }, (_, i) => [`k${i}`, i] as [string, number]));
  await kv.set('k1', 100);
  await kv.set('ttl', 5, { ttl: '1h' });
  const tasks = store.collection('tasks', { indexes: ['status'] });
  for (let i = 0; i < 10; i++) await tasks.insert({ id: `t${i}`, status: i % 2 ? 'open' : 'done' });
}

async function mutate(store: Store): Promise<void> {
  await store.kv('counts').set('k2', 'changed');
  await store.kv('counts').delete('k3');
  await store.kv('extra').set('x', 1);
  await store.collection('tasks').delete('t1');
}

describe.each(['sqlite', 'file', 'memory'])('backup and restore on %s', (kind) => {
  it('restores exactly: every space (meta.* included), versions and times', async () => {
    const store = await openStore({ url: urlFor(kind), sweepInterval: false });
    try {
      await fill(store);
      const to = join(dir, 'backups');
      const before = await rawDump(store, Date.now());
      expect(before).toContain('meta.collections');
      const backup = await store.backup({ to });
      expect(backup.id).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
      expect(backup.path).toBe(join(to, backup.id));
      expect(backup.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(backup.records).toBeGreaterThan(60);
      await mutate(store);
      expect(await rawDump(store, Date.now())).not.toBe(before);
      const restored = await store.restore(backup.id, { dir: to });
      expect(restored).toMatchObject({ id: backup.id, dryRun: false, records: backup.records });
      expect(await rawDump(store, Date.now())).toBe(before);
      expect(await store.collection('tasks').query({ status: 'open' })).toHaveLength(5);
      expect((await store.verify()).ok).toBe(true);
      // Files 0600 in 0700 directories.
      for (const name of await readdir(backup.path)) expect((await stat(join(backup.path, name))).mode & 0o777).toBe(0o600);
      expect((await stat(backup.path)).mode & 0o777).toBe(0o700);
    } finally {
      await store.close();
    }
  });

  it('encrypted values stay ciphertext in the backup and restore readable', async () => {
    const store = await openStore({ url: urlFor(kind), encryption: { keys: KEYS, integrity: 'mac' }, sweepInterval: false });
    try {
      await store.kv<string>('secrets', { encrypt: true }).set('token', SECRET);
      await store.collection('users', { encrypt: ['email'] }).insert({ id: 'u1', email: `${SECRET}@example.com` });
      const to = join(dir, 'backups');
      const backup = await store.backup({ to });
      for (const name of await readdir(backup.path)) {
        const bytes = await readFile(join(backup.path, name));
        const plain = name.endsWith('.gz') ? gunzipSync(bytes) : bytes;
        expect(plain.includes(SECRET)).toBe(false);
      }
      await store.kv('secrets').delete('token');
      await store.restore(backup.path);
      expect(await store.kv('secrets').get('token')).toBe(SECRET);
      expect((await store.collection('users').get('u1'))?.email).toBe(`${SECRET}@example.com`);
    } finally {
      await store.close();
    }
  });
});

describe("restoring another store's backup", () => {
  it('says reopen when the encryption state changed; reopened, the data reads back', async () => {
    const a = await openStore({ url: `sqlite:${join(dir, 'a.db')}`, encryption: { keys: KEYS }, sweepInterval: false });
    const b = await openStore({ url: `sqlite:${join(dir, 'b.db')}`, encryption: { keys: KEYS }, sweepInterval: false });
    try {
      await a.kv<string>('s', { encrypt: true }).set('t', SECRET);
      const backup = await a.backup();
      expect((await a.restore(backup.id)).reopen).toBe(false);
      await b.kv<string>('s', { encrypt: true }).set('other', 'x');
      expect((await b.restore(backup.path)).reopen).toBe(true);
      await b.close();
      const reopened = await openStore({ url: `sqlite:${join(dir, 'b.db')}`, encryption: { keys: KEYS }, sweepInterval: false });
      expect(await reopened.kv('s').get('t')).toBe(SECRET);
      expect(await reopened.kv('s').get('other')).toBeNull();
      await reopened.close();
      const plain = await openStore({ url: `sqlite:${join(dir, 'c.db')}`, sweepInterval: false });
      expect((await plain.restore(backup.path)).reopen).toBe(true);
      await plain.close();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('damaged and truncated backups', () => {
  for (const kind of ['sqlite', 'file']) {
    it(`are refused by restore and verify with CORRUPT, the live store unchanged (${kind})`, async () => {
      const store = await openStore({ url: urlFor(kind), sweepInterval: false });
      try {
        await fill(store, 200);
        const backup = await store.backup();
        await mutate(store);
        const live = await rawDump(store, Date.now());
        const names = await readdir(backup.path);
        const part = join(
          backup.path,
          names.find((n) => n.endsWith('.gz'))!,
        );
        const manifest = join(backup.path, 'manifest.json');
        const check = async (what: string): Promise<void> => {
          await expectCode(store.restore(backup.id), 'CORRUPT').catch((e: unknown) => {
            throw new Error(`${what}: ${String(e)}`);
          });
          await expectCode(store.backups.verify(backup.id), 'CORRUPT');
          expect(await rawDump(store, Date.now())).toBe(live);
        };
        for (const file of [part, manifest]) {
          const original = await readFile(file);
          const offsets = new Set<number>([0, 1, 9, 10, original.length - 1, original.length - 4, original.length - 8]);
          for (let i = 1; i <= 14; i++) offsets.add(Math.floor((original.length * i) / 15));
          for (const offset of offsets) {
            const flipped = Buffer.from(original);
            flipped[offset] = flipped[offset]! ^ 0x5a;
            await writeFile(file, flipped);
            await check(`flip at ${offset} of ${file}`);
          }
          for (const length of [
            0,
            1,
            10,
            Math.floor(original.length / 3),
            Math.floor(original.length / 2),
            original.length - 2,
          ]) {
            await writeFile(file, original);
            await truncate(file, length);
            await check(`truncated to ${length} of ${file}`);
          }
          // Bytes added at the end are damage too.
          await writeFile(file, Buffer.concat([original, Buffer.from('\n\n')]));
          if (file === part) await check(`appended to ${file}`);
          await writeFile(file, original);
        }
        await rm(part);
        await check('part missing');
        await rm(manifest);
        await expectCode(store.restore(backup.id), 'NOT_FOUND');
        expect(await rawDump(store, Date.now())).toBe(live);
      } finally {
        await store.close();
      }
    });
  }
});

describe('sqlite specifics', () => {
  it('backs up and restores tables created by SQL (migrations), and drops tables created since', async () => {
    const store = await openStore({ url: urlFor('sqlite'), sweepInterval: false });
    try {
      const db = sqliteConnection(bottomDriver(store));
      db.exec(
        'CREATE TABLE invoices (id INTEGER PRIMARY KEY AUTOINCREMENT, total REAL NOT NULL); CREATE INDEX invoices_total ON invoices (total)',
      );
      db.exec('INSERT INTO invoices (total) VALUES (10), (20.5)');
      // A rowid table without an integer key, a WITHOUT ROWID table, a foreign key, a generated column.
      db.exec(`CREATE TABLE notes (body TEXT, size INTEGER GENERATED ALWAYS AS (length(body)) VIRTUAL);
        CREATE TABLE tags (name TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
        CREATE TABLE lines (invoice INTEGER NOT NULL REFERENCES invoices (id), amount REAL);
        INSERT INTO notes (rowid, body) VALUES (7, 'seven'), (3, 'three');
        INSERT INTO tags VALUES ('a', 1), ('b', 2);
        INSERT INTO lines VALUES (1, 4.5), (2, 5);`);
      const dump = (): unknown =>
        [
          'SELECT rowid, body, size FROM notes ORDER BY rowid',
          'SELECT * FROM tags ORDER BY name',
          'SELECT rowid, * FROM lines ORDER BY rowid',
        ].map((sql) => db.prepare(sql).all());
      const tablesBefore = dump();
      await store.kv('a').set('x', 1);
      const backup = await store.backup();
      db.exec('INSERT INTO invoices (total) VALUES (99); DROP INDEX invoices_total; CREATE TABLE later (v TEXT)');
      db.exec('ALTER TABLE invoices ADD COLUMN note TEXT');
      db.exec("DELETE FROM lines; DELETE FROM notes WHERE rowid = 7; INSERT INTO tags VALUES ('c', 3)");
      await store.restore(backup.id);
      expect(dump()).toEqual(tablesBefore);
      expect(db.prepare('SELECT id, total FROM invoices ORDER BY id').all()).toEqual([
        { id: 1, total: 10 },
        { id: 2, total: 20.5 },
      ]);
      expect(
        db.prepare("SELECT name FROM sqlite_schema WHERE name IN ('later', 'invoices_total') ORDER BY name").pluck().all(),
      ).toEqual(['invoices_total']);
      db.exec('INSERT INTO invoices (total) VALUES (1)');
      expect(db.prepare('SELECT max(id) FROM invoices').pluck().get()).toBe(3);
      expect(await store.kv('a').get('x')).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("another connection's watchers get a reset and see the restored state", async () => {
    const a = await openStore({ url: urlFor('sqlite'), sweepInterval: false });
    const b = await openStore({ url: urlFor('sqlite'), sweepInterval: false });
    try {
      await a.kv('n').set('k', 1);
      const backup = await a.backup();
      await a.kv('n').set('k', 2);
      const events: string[] = [];
      const stop = b.kv('n').watch((c) => events.push(c.type));
      await a.restore(backup.id);
      expect(await b.kv('n').get('k')).toBe(1);
      await new Promise((r) => setTimeout(r, 300));
      stop();
      expect(events).toContain('reset');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a sqlite backup restores into a file store, and a file backup into sqlite', async () => {
    const sqlite = await openStore({ url: urlFor('sqlite'), sweepInterval: false });
    const file = await openStore({ url: urlFor('file'), sweepInterval: false });
    try {
      await fill(sqlite);
      await file.kv('other').set('gone', 1);
      const backup = await sqlite.backup();
      await file.restore(backup.path);
      expect(await rawDump(file, Date.now())).toBe(await rawDump(sqlite, Date.now()));
      await file.kv('more').set('m', 1);
      const back = await file.backup();
      await sqlite.restore(back.path);
      expect(await rawDump(sqlite, Date.now())).toBe(await rawDump(file, Date.now()));
    } finally {
      await sqlite.close();
      await file.close();
    }
  });
});

describe('manifest', () => {
  it('records the driver, spaces, counts, part checksums and the journal position', async () => {
    const store = await openStore({ url: urlFor('sqlite'), sweepInterval: false });
    try {
      await fill(store);
      const now = Date.now();
      await bottomDriver(store).batch(
        [7, 12, 9].map((seq) => ({
          type: 'put' as const,
          space: 'meta.journal',
          key: String(seq).padStart(16, '0'),
          value: '{}',
          expiresAt: null,
        })),
        now,
      );
      const backup = await store.backup();
      expect(backup.journalSeq).toBe(12);
      const manifest = JSON.parse(await readFile(join(backup.path, 'manifest.json'), 'utf8')) as Record<string, unknown>;
      expect(manifest).toMatchObject({ format: 'strata-backup/1', driver: 'sqlite', kind: 'sqlite-file', journalSeq: 12 });
      expect((manifest.spaces as Record<string, number>)['kv.counts']).toBe(51);
      expect((manifest.parts as Array<{ sha256: string }>)[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
      const listed = await store.backups.list();
      expect(listed[0]).toMatchObject({ id: backup.id, driver: 'sqlite', journalSeq: 12 });
    } finally {
      await store.close();
    }
  });
});

describe('list, verify, prune, dry runs', () => {
  it('lists newest first, damaged manifests as damaged; prune keeps the last N and the young ones', async () => {
    let clock = Date.UTC(2026, 5, 1);
    const store = await openStore({ url: urlFor('sqlite'), sweepInterval: false, clock: () => clock });
    try {
      await store.kv('a').set('x', 1);
      const ids: string[] = [];
      for (let day = 0; day < 5; day++) {
        ids.push((await store.backup()).id);
        clock += 24 * 3600_000;
      }
      const listed = await store.backups.list();
      expect(listed.map((b) => b.id)).toEqual([...ids].reverse());
      const damagedPath = join(listed[4]!.path, 'manifest.json');
      await writeFile(damagedPath, '{"format": "strata-backup/1"}');
      expect((await store.backups.list())[4]).toMatchObject({ id: ids[0], damaged: true });
      // Now is day 5: ids[4] is 1 day old, ids[0] 5 days.
      expect(await store.backups.prune({ keep: 2, dryRun: true })).toEqual({
        deleted: [ids[2], ids[1], ids[0]],
        kept: [ids[4], ids[3]],
      });
      expect((await store.backups.list()).length).toBe(5);
      expect(await store.backups.prune({ keep: 1, maxAge: '84h' })).toEqual({
        deleted: [ids[1], ids[0]],
        kept: [ids[4], ids[3], ids[2]],
      });
      expect(await store.backups.prune({ maxAge: '60h' })).toEqual({ deleted: [ids[2]], kept: [ids[4], ids[3]] });
      // A backup that died before its manifest: removed once it is an hour old.
      const leftover = join(dir, 'backups', 'app.db', ids[3]!.replace(/-.*/, '-000000'));
      await mkdir(leftover);
      await writeFile(join(leftover, 'store.db.gz'), 'partial');
      expect(await store.backups.prune({ keep: 1 })).toEqual({
        deleted: [ids[3], ids[3]!.replace(/-.*/, '-000000')],
        kept: [ids[4]],
      });
      expect((await store.backups.list()).map((b) => b.id)).toEqual([ids[4]]);
      const dirs = await readdir(join(dir, 'backups', 'app.db'));
      expect(dirs).toEqual([ids[4]]);
    } finally {
      await store.close();
    }
  });

  it('verify reports counts; a dry-run restore changes nothing', async () => {
    const store = await openStore({ url: urlFor('file'), sweepInterval: false });
    try {
      await fill(store);
      const backup = await store.backup();
      const seen: number[] = [];
      const verified = await store.backups.verify(backup.path, { onProgress: (p) => seen.push(p.bytes / p.totalBytes) });
      expect(seen.at(-1)).toBe(1);
      expect(verified).toMatchObject({ ok: true, id: backup.id, records: backup.records });
      expect(verified.spaces['kv.counts']).toBe(51);
      await mutate(store);
      const live = await rawDump(store, Date.now());
      expect(await store.restore(backup.id, { dryRun: true })).toMatchObject({ dryRun: true, records: backup.records });
      expect(await rawDump(store, Date.now())).toBe(live);
    } finally {
      await store.close();
    }
  });
});

describe('bad input', () => {
  it('every entry point refuses unknown options and bad values, and says NOT_FOUND for a missing backup', async () => {
    const store = await openStore({ url: urlFor('sqlite'), sweepInterval: false });
    const memory = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      await store.kv('a').set('x', 1);
      const backup = await store.backup();
      const before = await rawDump(store, Date.now());
      await expectCode(store.backup({ too: 'x' } as never), 'BAD_INPUT');
      await expectCode(store.backup({ gzipLevel: 12 }), 'BAD_INPUT');
      await expectCode(store.backup({ to: 5 } as never), 'BAD_INPUT');
      await expectCode(store.backup({ onProgress: 'yes' } as never), 'BAD_INPUT');
      await expectCode(memory.backup(), 'BAD_INPUT');
      await expectCode(memory.backups.list(), 'BAD_INPUT');
      await expectCode(store.restore(backup.id, { force: true } as never), 'BAD_INPUT');
      await expectCode(store.restore(backup.id, { dryRun: 'yes' } as never), 'BAD_INPUT');
      // Strata's own restore hooks (journal replay, the migrator's kept lease) are not options of store.restore.
      await expectCode(store.restore(backup.id, { prepare: async () => {} } as never), 'BAD_INPUT');
      await expectCode(store.restore(backup.id, { keepLive: ['kv.a'] } as never), 'BAD_INPUT');
      // This store keeps no change journal: no point in time can be rebuilt (docs/journal.md).
      await expectCode(store.restore(backup.id, { toTime: new Date() }), 'NOT_FOUND');
      await expectCode(store.restore(42 as never), 'BAD_INPUT');
      await expectCode(store.restore('20200101T000000000Z-abcdef'), 'NOT_FOUND');
      await expectCode(store.restore('no-such-backup'), 'NOT_FOUND');
      await expectCode(store.restore(join(dir, 'nowhere')), 'NOT_FOUND');
      await expectCode(store.restore(dir), 'NOT_FOUND');
      await expectCode(store.backups.verify('20200101T000000000Z-abcdef'), 'NOT_FOUND');
      await expectCode(store.backups.verify(backup.id, { deep: true } as never), 'BAD_INPUT');
      await expectCode(store.backups.verify(backup.id, { onProgress: 1 } as never), 'BAD_INPUT');
      await expectCode(store.restore(backup.id, { onProgress: 1 } as never), 'BAD_INPUT');
      await expectCode(store.backups.list({ folder: 'x' } as never), 'BAD_INPUT');
      await expectCode(store.backups.prune({}), 'BAD_INPUT');
      await expectCode(store.backups.prune({ keep: 0 }), 'BAD_INPUT');
      await expectCode(store.backups.prune({ keep: 1.5 }), 'BAD_INPUT');
      await expectCode(store.backups.prune({ maxAge: 'forever' as never }), 'BAD_INPUT');
      await expectCode(store.backups.prune({ keep: 1, every: 1 } as never), 'BAD_INPUT');
      expect(await rawDump(store, Date.now())).toBe(before);
      expect((await store.backups.list()).length).toBe(1);
      await store.close();
      await expectCode(store.backup(), 'CLOSED');
      await expectCode(store.restore(backup.id), 'CLOSED');
      await expectCode(store.backups.list(), 'CLOSED');
    } finally {
      await store.close();
      await memory.close();
    }
  });
});
