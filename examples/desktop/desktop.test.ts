import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError } from '../../src/index.js';
import { LineChild } from '../../test/reliability/helpers.js';
import { kazariDataDir, openKazari, storeUrl, type DataPersistenceLayer, type KazariOptions } from './persistence.js';

// Every behaviour seed 003 (the Kazari desktop app) asks of its persistence module, on the
// repositories built over Strata, with real files in a temp directory.

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
const TOKEN = `gho_${randomBytes(24).toString('base64url')}`;
const API_KEY = `sk-${randomBytes(24).toString('base64url')}`;
const NOTE = `private-note-${randomBytes(12).toString('hex')}`;

let dir: string;
const opened: DataPersistenceLayer[] = [];

async function app(options: Partial<KazariOptions> = {}): Promise<DataPersistenceLayer> {
  const layer = await openKazari({ keys: KEYS, dataDir: dir, ...options });
  opened.push(layer);
  return layer;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kazari-'));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
  rmSync(dir, { recursive: true, force: true });
});

const filesUnder = (root: string): string[] =>
  readdirSync(root, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));

const code = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (error) {
    if (error instanceof StrataError) return error.code;
    throw error;
  }
  throw new Error('expected a StrataError');
};

describe('desktop (seed 003): repositories over Strata', () => {
  it('settings, tasks, metrics and state persist across a restart', async () => {
    let a = await app();
    await a.userSettings.set('theme', 'dark');
    await a.userSettings.update({ language: 'fr', tokens: { github: TOKEN } });
    const task = await a.taskHistory.create({ title: 'write report', status: 'todo', priority: 'high', notes: NOTE });
    await a.sessionMetrics.recordSession({
      startedAt: new Date().toISOString(),
      durationMs: 1500,
      focusMs: 1200,
      tasksCompleted: 1,
      interruptions: 0,
    });
    await a.applicationState.saveState({
      openWindows: [{ id: 'main', route: '/tasks', bounds: [0, 0, 800, 600] }],
      activeTaskId: task.id,
      sidebarCollapsed: false,
    });
    await a.close();
    opened.length = 0;

    a = await app();
    expect(await a.userSettings.getAll()).toMatchObject({ theme: 'dark', language: 'fr', tokens: { github: TOKEN } });
    expect(await a.userSettings.get('theme')).toBe('dark');
    expect(await a.userSettings.get('focusMinutes')).toBe(25);
    expect(await a.taskHistory.getById(task.id)).toMatchObject({ title: 'write report', notes: NOTE });
    expect((await a.sessionMetrics.getMetrics('day')).sessions).toBe(1);
    expect((await a.applicationState.loadState())?.activeTaskId).toBe(task.id);
  });

  it('tokens, API keys and task notes are encrypted at rest: no file holds them in plain text', async () => {
    const a = await app();
    await a.userSettings.update({ tokens: { github: TOKEN }, apiKeys: { openai: API_KEY } });
    await a.taskHistory.create({ title: 'secret plans', status: 'todo', notes: NOTE });
    await a.close();
    opened.length = 0;
    const files = filesUnder(dir);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const secret of [TOKEN, API_KEY, NOTE]) expect(bytes.includes(secret), `${secret} in ${file}`).toBe(false);
    }
    // Without the keyring the secrets do not open.
    const other = await openKazari({ keys: `k1:${randomBytes(32).toString('base64')}`, dataDir: dir }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(StrataError);
    expect((other as StrataError).code).toBe('DECRYPT_FAILED');
  });

  it('settings: unknown keys and values that break the schema are refused, nothing written', async () => {
    const a = await app();
    expect(await code(a.userSettings.set('colour', 'red'))).toBe('BAD_INPUT');
    expect(await code(a.userSettings.update({ focusMinutes: -5 }))).toBe('VALIDATION_FAILED');
    expect(await a.userSettings.get('focusMinutes')).toBe(25);
    await a.userSettings.update({ theme: 'light', tokens: { github: TOKEN } });
    const exported = await a.userSettings.export();
    expect(exported).not.toContain(TOKEN);
    await a.userSettings.reset();
    expect((await a.userSettings.getAll()).theme).toBe('system');
    await a.userSettings.import(exported);
    expect((await a.userSettings.getAll()).theme).toBe('light');
    expect(await code(a.userSettings.import('{"format":"kazari-settings","version":1,"settings":{"__proto__":{"x":1}}}'))).toBe(
      'VALIDATION_FAILED',
    );
    expect(await code(a.userSettings.import('not json'))).toBe('BAD_INPUT');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('tasks: create, update, filters, history and archive', async () => {
    const a = await app();
    const t1 = await a.taskHistory.create({ title: 'old done', status: 'done', createdAt: '2026-01-05T10:00:00.000Z' });
    const t2 = await a.taskHistory.create({
      title: 'recent',
      status: 'todo',
      priority: 'low',
      tags: ['home'],
      createdAt: '2026-11-20T10:00:00.000Z',
    });
    expect(await code(a.taskHistory.create({ title: '', status: 'todo' }))).toBe('VALIDATION_FAILED');
    const updated = await a.taskHistory.update(t2.id, { status: 'done' });
    expect(updated.completedAt).toBeDefined();
    expect(await code(a.taskHistory.update('missing', { status: 'done' }))).toBe('NOT_FOUND');
    expect((await a.taskHistory.getAll({ tag: 'home' })).map((t) => t.id)).toEqual([t2.id]);
    expect((await a.taskHistory.getAll({ status: 'done' })).length).toBe(2);
    const history = await a.taskHistory.getHistory({ from: new Date('2026-01-01'), to: new Date('2026-02-01') });
    expect(history.map((h) => h.id)).toEqual([t1.id]);
    expect(await a.taskHistory.archive(new Date('2026-06-01'))).toBe(1);
    expect(await a.taskHistory.getById(t1.id)).toBeNull();
    expect((await a.taskHistory.archived()).map((t) => t.id)).toEqual([t1.id]);
    await a.taskHistory.delete(t2.id);
    expect(await a.taskHistory.getAll()).toEqual([]);
  });

  it('metrics: daily, weekly, monthly totals, trends and cleanup', async () => {
    const now = new Date(2026, 10, 18, 12); // Wednesday 18 November 2026, local time
    const a = await app({ now: () => now });
    const at = (y: number, m: number, d: number) => new Date(y, m, d, 9).toISOString();
    for (const [startedAt, focusMs, tasksCompleted] of [
      [at(2026, 10, 16), 1000, 1], // Monday, this week
      [at(2026, 10, 18), 3000, 2], // today
      [at(2026, 10, 10), 2000, 1], // last week
      [at(2026, 9, 3), 500, 0], // October
    ] as const) {
      await a.sessionMetrics.recordSession({ startedAt, durationMs: focusMs * 2, focusMs, tasksCompleted, interruptions: 1 });
    }
    const today = await a.sessionMetrics.getDailyMetrics(now);
    expect(today).toMatchObject({ period: 'day', sessions: 1, focusMs: 3000, tasksCompleted: 2, focusRatio: 0.5 });
    const week = await a.sessionMetrics.getWeeklyMetrics(new Date(2026, 10, 16));
    expect(week).toMatchObject({ sessions: 2, focusMs: 4000 });
    expect(week.days.map((d) => d.sessions)).toEqual([1, 0, 1, 0, 0, 0, 0]);
    expect((await a.sessionMetrics.getMonthlyMetrics(new Date(2026, 10, 1))).sessions).toBe(3);
    const trends = await a.sessionMetrics.calculateTrends('week');
    expect(trends.current.focusMs).toBe(4000);
    expect(trends.previous.focusMs).toBe(2000);
    expect(trends.focusChange).toBe(1);
    await a.sessionMetrics.cleanup(30 * 86_400_000);
    expect((await a.sessionMetrics.getMonthlyMetrics(new Date(2026, 9, 1))).sessions).toBe(0);
    expect((await a.sessionMetrics.getMonthlyMetrics(new Date(2026, 10, 1))).sessions).toBe(3);
  });

  it('state: a snapshot restores, an altered one is refused', async () => {
    const a = await app();
    const state = {
      openWindows: [{ id: 'main', route: '/', bounds: [0, 0, 100, 100] }],
      activeTaskId: null,
      sidebarCollapsed: true,
    };
    await a.applicationState.saveState(state);
    const snapshot = await a.applicationState.getStateSnapshot();
    expect(snapshot.version).toBe(1);
    await a.applicationState.clearState();
    expect(await a.applicationState.loadState()).toBeNull();
    expect(
      await code(a.applicationState.restoreFromSnapshot({ ...snapshot, state: { ...state, sidebarCollapsed: false } })),
    ).toBe('INTEGRITY');
    await a.applicationState.restoreFromSnapshot(snapshot);
    expect(await a.applicationState.loadState()).toEqual(state);
    expect(await code(a.applicationState.saveState({ ...state, openWindows: 'all' } as never))).toBe('VALIDATION_FAILED');
  });

  it('security manager: context-bound encryption, keyed hashes, checksums', async () => {
    const { securityManager: sm } = await app();
    const sealed = await sm.encrypt('personal data', 'profile:email');
    expect(sealed).not.toContain('personal');
    expect(await sm.decrypt(sealed, 'profile:email')).toBe('personal data');
    expect(await code(sm.decrypt(sealed, 'profile:phone'))).toBe('DECRYPT_FAILED');
    // Another character in the tag's place (never the same one: the text is random).
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.slice(-1);
    expect(flipped).not.toBe(sealed);
    expect(await code(sm.decrypt(flipped, 'profile:email'))).toBe('DECRYPT_FAILED');
    expect(sm.hashSensitiveData('a@b.c')).toBe(sm.hashSensitiveData('a@b.c'));
    expect(sm.hashSensitiveData('a@b.c')).not.toContain('a@b.c');
    const checksum = sm.generateChecksum({ b: 1, a: [1, 2] });
    expect(sm.validateDataIntegrity({ a: [1, 2], b: 1 }, checksum)).toBe(true);
    expect(sm.validateDataIntegrity({ a: [1, 2], b: 2 }, checksum)).toBe(false);
    expect(sm.validateDataIntegrity({ a: [1, 2], b: 1 }, 'zz')).toBe(false);
  });

  it('quotas and cleanup: past its quota a session is refused until cleanup frees room', async () => {
    const now = new Date(2026, 10, 18, 12);
    const a = await app({ now: () => now, maxSessions: 3 });
    const session = (daysAgo: number) => ({
      startedAt: new Date(now.getTime() - daysAgo * 86_400_000).toISOString(),
      durationMs: 10,
      focusMs: 5,
      tasksCompleted: 0,
      interruptions: 0,
    });
    for (const days of [40, 35, 1]) await a.sessionMetrics.recordSession(session(days));
    expect(await code(a.sessionMetrics.recordSession(session(0)))).toBe('QUOTA_EXCEEDED');
    expect((await a.sessionMetrics.getMetrics('month')).sessions).toBe(1);
    await a.sessionMetrics.cleanup(30 * 86_400_000);
    await a.sessionMetrics.recordSession(session(0));
    expect((await a.store.stats()).collections.find((c) => c.name === 'sessions')?.records).toBe(2);
  });

  it('dev and prod never share data: one directory per environment in the OS data directory', async () => {
    const saved = process.env.XDG_DATA_HOME;
    process.env.XDG_DATA_HOME = dir;
    try {
      const devDir = kazariDataDir({ env: 'development' });
      const prodDir = kazariDataDir({ env: 'production' });
      expect(devDir).toBe(join(dir, 'kazari', 'development'));
      expect(prodDir).toBe(join(dir, 'kazari', 'production'));
      const dev = await openKazari({ keys: KEYS, env: 'development' });
      opened.push(dev);
      await dev.userSettings.set('theme', 'dark');
      const prod = await openKazari({ keys: KEYS, env: 'production' });
      opened.push(prod);
      expect(await prod.userSettings.get('theme')).toBe('system');
      expect(filesUnder(devDir).some((f) => f.endsWith('kazari.db'))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.XDG_DATA_HOME;
      else process.env.XDG_DATA_HOME = saved;
    }
  });

  it('multiple windows: 3 processes write tasks and settings at once, each sees the others, nothing lost', async () => {
    const first = await app();
    await first.close();
    opened.length = 0;
    const vn = fileURLToPath(new URL('../../node_modules/vite-node/vite-node.mjs', import.meta.url));
    const worker = fileURLToPath(new URL('./window-worker.ts', import.meta.url));
    const n = 30;
    const windows = [1, 2, 3].map(
      (id) =>
        new LineChild(vn, [worker, dir, String(id), String(n), '3'], { stdin: true, env: { ...process.env, STRATA_KEYS: KEYS } }),
    );
    await Promise.all(windows.map((w) => w.waitFor((line) => line === 'R', 30_000)));
    for (const w of windows) w.proc.stdin!.write('go\n');
    const results = await Promise.all(
      windows.map(async (w) => JSON.parse((await w.waitFor((l) => l.startsWith('D '), 60_000)).slice(2))),
    );
    await Promise.all(windows.map((w) => w.exited));
    for (const r of results) {
      expect(r.seen).toBe(3 * n);
      expect(r.remoteTasks).toBe(2 * n);
      expect(r.remoteSettings).toBeGreaterThan(0);
    }
    const a = await app();
    expect((await a.taskHistory.getAll()).length).toBe(3 * n);
    const tokens = (await a.userSettings.getAll()).tokens;
    expect(tokens).toEqual({ window1: 'tok-1-25', window2: 'tok-2-25', window3: 'tok-3-25' });
    expect((await a.store.verify()).ok).toBe(true);
  }, 120_000);

  it('migration "Add task priority field": applied once at start, after a backup', async () => {
    // A store of the app's first version: tasks without a priority.
    const v1 = await openStore({ url: storeUrl(dir), encryption: { keys: KEYS } });
    const old = v1.collection('tasks', { key: 'id', indexes: ['status', 'priority', 'createdAt'], encrypt: ['notes'] });
    for (let i = 0; i < 1200; i++)
      await old.insert({
        id: `t${i}`,
        title: `task ${i}`,
        status: 'todo',
        tags: [],
        createdAt: new Date(2026, 0, 1, 0, i).toISOString(),
      });
    await old.update('t7', { priority: 'high' });
    await v1.close();

    const a = await app();
    expect(await a.migrations.getCurrentVersion()).toBe(2);
    expect((await a.taskHistory.getById('t1'))?.priority).toBe('medium');
    expect((await a.taskHistory.getById('t7'))?.priority).toBe('high');
    expect(await a.taskHistory.getAll({ priority: 'medium' })).toHaveLength(1199);
    const status = await a.store.migrations.status();
    expect(status.map((s) => [s.name, s.state])).toEqual([['0002-add-task-priority-field', 'applied']]);
    expect((await a.store.backups.list()).length).toBe(1);
    await a.close();
    opened.length = 0;
    // A second start finds nothing to do: no new backup, nothing rewritten.
    const again = await app();
    expect((await again.store.backups.list()).length).toBe(1);
    expect((await again.store.collection('tasks').getEntry('t1'))?.version).toBe(2);
  });

  it('a migration that fails half way is rolled back: the store is exactly as before the run', async () => {
    const a = await app();
    for (let i = 0; i < 50; i++) await a.taskHistory.create({ id: `t${i}`, title: `task ${i}`, status: 'todo', priority: 'low' });
    const dump = async () =>
      JSON.stringify(
        await a.store
          .collection('tasks')
          .query({}, {})
          .then((docs) => docs),
      );
    const entries = async () => Promise.all(Array.from({ length: 50 }, (_, i) => a.store.collection('tasks').getEntry(`t${i}`)));
    const before = [await dump(), JSON.stringify(await entries())];
    a.migrations.registerMigration(3, {
      description: 'rename low priority',
      async up(m) {
        for (let i = 0; i < 25; i++) await m.collection('tasks').update(`t${i}`, { priority: 'medium' });
        throw new Error('disk full halfway');
      },
    });
    const error = await a.migrations.runMigrations(3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StrataError);
    expect((error as StrataError).code).toBe('MIGRATION_FAILED');
    expect((error as StrataError).message).toContain('0003-rename-low-priority');
    expect([await dump(), JSON.stringify(await entries())]).toEqual(before);
    expect(await a.migrations.getCurrentVersion()).toBe(2);
    // The app can also roll back on its own decision, to a backup it took.
    const id = await a.migrations.createBackup(2);
    await a.taskHistory.delete('t0');
    await a.migrations.rollback(id);
    expect(await a.taskHistory.getById('t0')).not.toBeNull();
  });

  it('recovery from a damaged data file: the newest backup that verifies is restored, the damaged file kept', async () => {
    let a = await app();
    for (let i = 0; i < 300; i++)
      await a.taskHistory.create({ id: `t${i}`, title: `task ${i} ${'x'.repeat(200)}`, status: 'todo', notes: NOTE });
    await a.userSettings.update({ tokens: { github: TOKEN } });
    const good = await a.migrations.createBackup(2);
    await a.taskHistory.create({ id: 'after-backup', title: 'lost with the damage', status: 'todo' });
    // A newer backup that is itself damaged: recovery must pass over it to the one before.
    const damagedBackup = (await a.store.backup()).path;
    await a.close();
    opened.length = 0;
    for (const part of readdirSync(damagedBackup).filter((f) => f !== 'manifest.json')) {
      const path = join(damagedBackup, part);
      const bytes = readFileSync(path);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at]! ^ 0xff;
      writeFileSync(path, bytes);
    }

    // Damage the middle of the database file (the WAL was checkpointed at close).
    const file = join(dir, 'kazari.db');
    const size = statSync(file).size;
    const fd = openSync(file, 'r+');
    const buf = Buffer.alloc(4096);
    readSync(fd, buf, 0, buf.length, Math.floor(size / 2));
    for (let i = 0; i < buf.length; i += 7) buf[i] = buf[i]! ^ 0x5a;
    writeSync(fd, buf, 0, buf.length, Math.floor(size / 2));
    closeSync(fd);

    // Without `recover` the damage surfaces when its pages are read.
    a = await app();
    expect((await a.store.verify()).ok).toBe(false);
    await a.close();
    opened.length = 0;
    a = await app({ recover: true });
    expect(a.recovered?.damagedFiles.some((f) => f.includes('kazari.db.damaged-'))).toBe(true);
    expect(a.recovered?.backup).toBe(good);
    expect((await a.taskHistory.getAll()).length).toBe(300);
    expect(await a.taskHistory.getById('after-backup')).toBeNull();
    expect((await a.taskHistory.getById('t5'))?.notes).toBe(NOTE);
    expect((await a.userSettings.getAll()).tokens).toEqual({ github: TOKEN });
    expect((await a.store.verify()).ok).toBe(true);
  });

  it('export and import move everything to another installation, secrets still encrypted in the file', async () => {
    const a = await app();
    await a.userSettings.update({ theme: 'dark', tokens: { github: TOKEN } });
    for (let i = 0; i < 20; i++) await a.taskHistory.create({ id: `t${i}`, title: `task ${i}`, status: 'todo', notes: NOTE });
    await a.sessionMetrics.recordSession({
      startedAt: new Date().toISOString(),
      durationMs: 60,
      focusMs: 30,
      tasksCompleted: 1,
      interruptions: 0,
    });
    const file = join(dir, 'kazari-export.strata');
    expect((await a.exportData(file)).records).toBeGreaterThan(20);
    const text = gunzipSync(readFileSync(file)).toString('utf8');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(NOTE);

    // The other installation: its own data directory and a keyring with a new primary key
    // that still holds the key the export was written with.
    const otherDir = mkdtempSync(join(tmpdir(), 'kazari-other-'));
    try {
      const b = await openKazari({ keys: `k2:${randomBytes(32).toString('base64')},${KEYS}`, dataDir: otherDir });
      opened.push(b);
      await b.taskHistory.create({ id: 'local-only', title: 'replaced away', status: 'todo' });
      await b.importData(file);
      expect(await b.taskHistory.getById('local-only')).toBeNull();
      expect(await b.taskHistory.getAll()).toHaveLength(20);
      expect((await b.taskHistory.getById('t3'))?.notes).toBe(NOTE);
      expect((await b.userSettings.getAll()).tokens).toEqual({ github: TOKEN });
      expect((await b.sessionMetrics.getMetrics('day')).sessions).toBe(1);
      // Without the key the values were written with, the import is refused and changes nothing.
      const c = await openKazari({ keys: `k9:${randomBytes(32).toString('base64')}`, dataDir: join(otherDir, 'c') });
      opened.push(c);
      expect(['DECRYPT_FAILED', 'BAD_INPUT']).toContain(await code(c.importData(file)));
      expect(await c.taskHistory.getAll()).toHaveLength(0);
      // A damaged file is refused too.
      const bytes = readFileSync(file);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at]! ^ 0xff;
      writeFileSync(join(otherDir, 'bad.strata'), bytes);
      expect(await code(b.importData(join(otherDir, 'bad.strata')))).toBe('CORRUPT');
      expect(await b.taskHistory.getAll()).toHaveLength(20);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});
