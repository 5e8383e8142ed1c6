// Seed 003 (desktop), rules/error-handling.md and "Unit tests must cover all repository
// methods ... and comprehensive edge case scenarios". Every public function checks its
// arguments: a null, a wrong type, an unknown option, or a date or retention beyond what a
// Date holds is a StrataError (BAD_INPUT, or VALIDATION_FAILED from a schema) saying what to
// pass, never a TypeError or RangeError from deeper down. openKazari checks all its options
// before it opens anything.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataError } from '../../src/index.js';
import { kazariDataDir, openKazari, storeUrl, type DataPersistenceLayer, type KazariOptions } from './persistence.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
let dir: string;
let app: DataPersistenceLayer | null = null;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kazari-args-'));
});
afterEach(async () => {
  await app?.close();
  app = null;
  rmSync(dir, { recursive: true, force: true });
});

/** The code of the StrataError `f` throws or rejects with; anything else by its class and message. */
async function refusal(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (error) {
    if (error instanceof StrataError) return error.code;
    return `${(error as Error).constructor.name}: ${(error as Error).message}`;
  }
  return 'resolved';
}
const REFUSED = ['BAD_INPUT', 'VALIDATION_FAILED'];

describe('desktop (seed 003): bad arguments to the public functions are refused with a StrataError', () => {
  it('null, non-object and non-string arguments to the repositories and the security manager', async () => {
    app = await openKazari({ keys: KEYS, dataDir: dir });
    const a = app;
    const cases: Array<[string, () => unknown]> = [
      ['sessionMetrics.recordSession(null)', () => a.sessionMetrics.recordSession(null as never)],
      ['taskHistory.create(null)', () => a.taskHistory.create(null as never)],
      ['taskHistory.update(id, null)', () => a.taskHistory.update('t1', null as never)],
      ['taskHistory.update(5, {})', () => a.taskHistory.update(5 as never, {})],
      ['taskHistory.getById(123)', () => a.taskHistory.getById(123 as never)],
      ['taskHistory.delete(undefined)', () => a.taskHistory.delete(undefined as never)],
      ['taskHistory.getAll(null)', () => a.taskHistory.getAll(null as never)],
      ['taskHistory.getAll({ stauts })', () => a.taskHistory.getAll({ stauts: 'done' } as never)],
      ['userSettings.get(123)', () => a.userSettings.get(123 as never)],
      ['userSettings.set(null, x)', () => a.userSettings.set(null as never, 'x')],
      ['userSettings.import(undefined)', () => a.userSettings.import(undefined as never)],
      ['securityManager.encrypt(123, ctx)', () => a.securityManager.encrypt(123 as never, 'settings:tokens')],
      ['securityManager.encrypt(data, 123)', () => a.securityManager.encrypt('x', 123 as never)],
      ['securityManager.decrypt(sealed, 123)', () => a.securityManager.decrypt('ksm1.x', 123 as never)],
      ['securityManager.hashSensitiveData(undefined)', () => a.securityManager.hashSensitiveData(undefined as never)],
      ['migrations.rollback(null)', () => a.migrations.rollback(null as never)],
      ['kazariDataDir(null)', () => kazariDataDir(null as never)],
      ['kazariDataDir({ dataDir: 5 })', () => kazariDataDir({ dataDir: 5 as never })],
      ['storeUrl(undefined)', () => storeUrl(undefined as never)],
    ];
    for (const [what, f] of cases) expect.soft(REFUSED, what).toContain(await refusal(f));
  });

  it('a refusal names the call and says what to pass', async () => {
    app = await openKazari({ keys: KEYS, dataDir: dir });
    const error = (await app.taskHistory.update('t1', null as never).catch((e: unknown) => e)) as StrataError;
    expect(error).toBeInstanceOf(StrataError);
    expect(error.message).toContain('task.update');
    expect(error.hint).toMatch(/^pass /);
  });

  it('a retention or date beyond what a Date can hold is BAD_INPUT', async () => {
    app = await openKazari({ keys: KEYS, dataDir: dir });
    const a = app;
    const cases: Array<[string, () => unknown]> = [
      ['cleanup(1e16)', () => a.sessionMetrics.cleanup(1e16)],
      // The last valid Date, and the first: the month and week around them are not Dates.
      ['getMonthlyMetrics(new Date(8.64e15))', () => a.sessionMetrics.getMonthlyMetrics(new Date(8.64e15))],
      ['getDailyMetrics(new Date(8.64e15))', () => a.sessionMetrics.getDailyMetrics(new Date(8.64e15))],
      ['getWeeklyMetrics(new Date(-8.64e15))', () => a.sessionMetrics.getWeeklyMetrics(new Date(-8.64e15))],
      // A valid Date whose month lies outside the years 0000-9999 that stored times are written in.
      ['getMonthlyMetrics(year 10000)', () => a.sessionMetrics.getMonthlyMetrics(new Date(Date.UTC(10000, 5, 15)))],
    ];
    for (const [what, f] of cases) expect.soft(await refusal(f), what).toBe('BAD_INPUT');
    await a.sessionMetrics.cleanup(8.64e15); // the longest retention: nothing is that old
  });

  it('openKazari refuses bad options before it creates anything: null, unknown names, bad values', async () => {
    const bad: unknown[] = [
      null,
      { dataDir: dir },
      { keys: KEYS, dataDir: dir, retension: 1000 },
      { keys: KEYS, dataDir: dir, retention: 1e300 },
      { keys: KEYS, dataDir: dir, retention: -1 },
      { keys: KEYS, dataDir: dir, backupsKept: -1 },
      { keys: KEYS, dataDir: dir, backupsKept: 1.5 },
      { keys: KEYS, dataDir: dir, backupsKept: 0 },
      { keys: KEYS, dataDir: dir, maxSessions: '10' },
      { keys: KEYS, dataDir: dir, now: new Date() },
      { keys: KEYS, dataDir: dir, recover: 'yes' },
      { keys: 42, dataDir: dir },
    ];
    for (const options of bad) {
      const code = await refusal(async () => {
        const opened = await openKazari(options as KazariOptions);
        await opened.close();
      });
      expect.soft(code, JSON.stringify(options)).toBe('BAD_INPUT');
    }
    expect(existsSync(join(dir, 'kazari.db'))).toBe(false);
    const error = (await openKazari({ keys: KEYS, dataDir: dir, retension: 1 } as KazariOptions).catch(
      (e: unknown) => e,
    )) as StrataError;
    expect(error.hint).toContain('retention');
  });
});
