// Seed 003 (desktop) under hostile use: setting names that are Object.prototype members,
// dates that name no instant (or an offset that string comparison would misplace), bad
// periods and retentions, a canary scan of every file (with the store open, after a backup
// and an export, and a control canary that must be found so the scan can see plaintext),
// and recovery from a data file truncated, emptied or overwritten.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataError } from '../../src/index.js';
import { openKazari, type DataPersistenceLayer, type KazariOptions } from './persistence.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
let dir: string;
const opened: DataPersistenceLayer[] = [];

async function app(options: Partial<KazariOptions> = {}): Promise<DataPersistenceLayer> {
  const layer = await openKazari({ keys: KEYS, dataDir: dir, ...options });
  opened.push(layer);
  return layer;
}
async function closeAll() {
  await Promise.all(opened.splice(0).map((a) => a.close()));
}
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kazari-hostile-'));
});
afterEach(async () => {
  await closeAll();
  rmSync(dir, { recursive: true, force: true });
});

const code = async (p: Promise<unknown> | (() => unknown)): Promise<string> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (error) {
    return error instanceof StrataError ? error.code : `not a StrataError: ${String(error)}`;
  }
  return 'ok';
};
const filesUnder = (root: string): string[] =>
  readdirSync(root, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));

describe('desktop (seed 003) under hostile input', () => {
  it('setting names that are Object.prototype members are unknown settings', async () => {
    const a = await app();
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      expect(await a.userSettings.get(name), name).toBeNull();
      expect(await code(a.userSettings.set(name, 'x')), name).toBe('BAD_INPUT');
      expect(await code(a.userSettings.update({ [name]: 1 } as never)), name).toBe('BAD_INPUT');
    }
    expect(await code(a.userSettings.update(JSON.parse('{"__proto__":{"theme":"dark"}}')))).toBe('BAD_INPUT');
    expect((await a.userSettings.getAll()).theme).toBe('system');
    expect(await a.store.kv('settings').list()).toEqual([]);
  });

  it('dates, periods and retentions that are not what they say are refused, nothing changed', async () => {
    const a = await app();
    await a.sessionMetrics.recordSession({
      startedAt: new Date().toISOString(),
      durationMs: 10,
      focusMs: 5,
      tasksCompleted: 0,
      interruptions: 0,
    });
    await a.taskHistory.create({ id: 'keep', title: 'keep', status: 'done' });
    const invalid = new Date('nope');
    expect(await code(a.taskHistory.getHistory({ from: invalid, to: new Date() }))).toBe('BAD_INPUT');
    expect(await code(a.taskHistory.getHistory({ from: new Date() } as never))).toBe('BAD_INPUT');
    expect(await code(a.taskHistory.getHistory({ from: new Date(2), to: new Date(1) }))).toBe('BAD_INPUT');
    expect(await code(a.taskHistory.archive(invalid))).toBe('BAD_INPUT');
    expect(await code(a.taskHistory.archive('2024-01-01' as never))).toBe('BAD_INPUT');
    expect(await code(a.sessionMetrics.getDailyMetrics(invalid))).toBe('BAD_INPUT');
    expect(await code(a.sessionMetrics.getWeeklyMetrics(invalid))).toBe('BAD_INPUT');
    expect(await code(a.sessionMetrics.getMonthlyMetrics(invalid))).toBe('BAD_INPUT');
    expect(await code(a.sessionMetrics.getMetrics('year' as never))).toBe('BAD_INPUT');
    expect(await code(a.sessionMetrics.calculateTrends('__proto__' as never))).toBe('BAD_INPUT');
    for (const retention of [-1, Number.NaN, Infinity, '30d', undefined])
      expect(await code(a.sessionMetrics.cleanup(retention as never)), String(retention)).toBe('BAD_INPUT');
    expect((await a.sessionMetrics.getMetrics('day')).sessions).toBe(1);
    expect(await a.taskHistory.getById('keep')).not.toBeNull();
    // A start that names no instant is refused by the schema; one with an offset is stored
    // as UTC, so the period scans (ISO string ranges) count it in the right period.
    const session = { durationMs: 10, focusMs: 5, tasksCompleted: 0, interruptions: 0 };
    for (const startedAt of ['yesterday', '2024-02-30T10:00:00Z', '2024-01-01T10:00:00', ''])
      expect(await code(a.sessionMetrics.recordSession({ ...session, startedAt })), startedAt).toBe('VALIDATION_FAILED');
    await a.sessionMetrics.recordSession({ ...session, id: 'tz', startedAt: '2024-03-01T01:00:00+02:00' });
    expect((await a.store.collection('sessions').get('tz'))?.startedAt).toBe('2024-02-29T23:00:00.000Z');
    const at = new Date('2024-02-29T23:00:00.000Z');
    expect((await a.sessionMetrics.getMonthlyMetrics(at)).sessions).toBe(1);
    expect((await a.sessionMetrics.getMonthlyMetrics(new Date(at.getFullYear(), at.getMonth() + 1, 15))).sessions).toBe(0);
    expect((await a.sessionMetrics.getDailyMetrics(at)).sessions).toBe(1);
    for (const createdAt of ['soon', '2024-13-01T00:00:00Z'])
      expect(await code(a.taskHistory.create({ title: 't', status: 'todo', createdAt })), createdAt).toBe('VALIDATION_FAILED');
    const t = await a.taskHistory.create({ id: 'tz', title: 't', status: 'todo', createdAt: '2024-03-01T01:00:00+02:00' });
    expect(t.createdAt).toBe('2024-02-29T23:00:00.000Z');
    expect(await code(a.taskHistory.update('tz', { completedAt: 'later' }))).toBe('VALIDATION_FAILED');
    expect((await a.taskHistory.update('tz', { status: 'done', completedAt: '2024-03-01T02:00:00+02:00' })).completedAt).toBe(
      '2024-03-01T00:00:00.000Z',
    );
  });

  it('canary scan: no file ever holds a secret in plain text (open, after a backup and an export)', async () => {
    const canary = (what: string) => `canary-${what}-${randomBytes(9).toString('hex')}`;
    const secrets = [canary('token'), canary('apikey'), canary('credential'), canary('note'), canary('note2')];
    const [token, apiKey, credential, note, note2] = secrets as [string, string, string, string, string];
    const control = canary('title'); // not secret: must be found, or the scan proves nothing
    const a = await app();
    await a.userSettings.update({ tokens: { github: token }, apiKeys: { openai: apiKey }, credentials: { smtp: credential } });
    await a.userSettings.update((s) => ({ tokens: { ...s.tokens, refresh: token } }));
    for (let i = 0; i < 50; i++) await a.taskHistory.create({ title: `${control} ${i}`, status: 'done', notes: `${note} ${i}` });
    await a.taskHistory.update((await a.taskHistory.getAll())[0]!.id, { notes: note2 });
    await a.taskHistory.archive(new Date(Date.now() + 60_000)); // notes move to the archive collection
    await a.migrations.createBackup(2);
    await a.exportData(join(dir, 'export.strata'));
    const scan = (when: string) => {
      let controlSeen = false;
      for (const file of filesUnder(dir)) {
        const bytes = readFileSync(file);
        for (const s of secrets) {
          for (const form of [Buffer.from(s), Buffer.from(s, 'utf16le'), Buffer.from(Buffer.from(s).toString('base64'))])
            expect(bytes.includes(form), `${when}: ${s} in ${file}`).toBe(false);
        }
        if (bytes.includes(control)) controlSeen = true;
      }
      expect(controlSeen, `${when}: the control canary is in no file`).toBe(true);
    };
    scan('open'); // the WAL and shared-memory files included
    await closeAll();
    scan('closed');
    const b = await app();
    expect((await b.userSettings.getAll()).credentials).toEqual({ smtp: credential });
  });

  for (const [what, damage] of [
    ['truncated to half', (file: string) => truncateSync(file, Math.floor(statSync(file).size / 2))],
    ['emptied', (file: string) => truncateSync(file, 0)],
    ['overwritten with garbage', (file: string) => writeFileSync(file, randomBytes(statSync(file).size))],
    [
      'its header zeroed',
      (file: string) => {
        const bytes = readFileSync(file);
        bytes.fill(0, 0, 100);
        writeFileSync(file, bytes);
      },
    ],
  ] as const) {
    it(`recovery from a data file ${what}: the backup is restored, the damaged bytes kept aside`, async () => {
      let a = await app();
      for (let i = 0; i < 100; i++)
        await a.taskHistory.create({ id: `t${i}`, title: `task ${i} ${'x'.repeat(100)}`, status: 'todo' });
      const good = await a.migrations.createBackup(2);
      await closeAll();
      const file = join(dir, 'kazari.db');
      damage(file);
      const damagedBytes = readFileSync(file);
      a = await app({ recover: true });
      expect(a.recovered?.backup).toBe(good);
      expect((await a.taskHistory.getAll()).length).toBe(100);
      expect((await a.store.verify()).ok).toBe(true);
      const kept = a.recovered!.damagedFiles.find((f) => !f.endsWith('-wal') && !f.endsWith('-shm'))!;
      expect(readFileSync(kept).equals(damagedBytes)).toBe(true);
    });
  }

  it('recovery with no backup that verifies: CORRUPT, the damaged file kept, nothing invented', async () => {
    const a = await app();
    await a.taskHistory.create({ id: 't', title: 'x', status: 'todo' });
    await closeAll();
    const file = join(dir, 'kazari.db');
    writeFileSync(file, randomBytes(statSync(file).size));
    const bytes = readFileSync(file);
    // The start-up migration's backup is damaged too (a byte flipped in each of its files).
    const backupFiles = filesUnder(join(dir, 'backups')).filter((f) => !f.endsWith('manifest.json'));
    expect(backupFiles.length).toBeGreaterThan(0);
    for (const f of backupFiles) {
      const b = readFileSync(f);
      b[Math.floor(b.length / 2)]! ^= 0xff;
      writeFileSync(f, b);
    }
    const failed = await openKazari({ keys: KEYS, dataDir: dir, recover: true }).then(
      (layer) => {
        opened.push(layer);
        return null;
      },
      (e: unknown) => e as StrataError,
    );
    expect(failed?.code).toBe('CORRUPT');
    expect(failed?.hint).toContain('damaged-');
    const kept = filesUnder(dir).filter((f) => f.includes('kazari.db.damaged-') && !/-(wal|shm)$/.test(f));
    expect(kept).toHaveLength(1);
    expect(readFileSync(kept[0]!).equals(bytes)).toBe(true);
  });
});
