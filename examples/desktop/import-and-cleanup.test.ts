// examples/desktop (seed 003): data imported from an older installation is upgraded, and
// obsolete sessions are removed by themselves.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { openKazari, storeUrl, type DataPersistenceLayer } from './persistence.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
let dir: string;
const opened: DataPersistenceLayer[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-kazari-'));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close().catch(() => undefined)));
  rmSync(dir, { recursive: true, force: true });
});

describe('desktop (seed 003): import and cleanup', () => {
  // seed 003_9255a4fa349d5d28.txt:10 "Data migration system must handle schema changes and version upgrades
  //   without data loss"; :16 "Import/export functionality must allow users to backup and transfer their data
  //   between installations"; :238 "Import/export functionality allows complete data transfer between
  //   application installations". examples/desktop/README.md:38-39 the migration "Add task priority field"
  //   "runs at every start ... applied once"; README.md:47-50 importData on "the other installation".
  it('data exported by a first-version installation, imported into this one, gets the "Add task priority field" migration', async () => {
    // The app's first version, as examples/desktop/desktop.test.ts:290-300 builds it: tasks without a priority.
    const oldDir = join(dir, 'old-install');
    const v1 = await openStore({ url: storeUrl(oldDir), encryption: { keys: KEYS } });
    const old = v1.collection('tasks', { key: 'id', indexes: ['status', 'priority', 'createdAt'], encrypt: ['notes'] });
    for (let i = 0; i < 5; i++)
      await old.insert({ id: `t${i}`, title: `task ${i}`, status: 'todo', tags: [], createdAt: new Date().toISOString() });
    const file = join(dir, 'from-v1.strata');
    await v1.export(file);
    await v1.close();

    const app = await openKazari({ keys: KEYS, dataDir: join(dir, 'new-install') });
    opened.push(app);
    await app.importData(file);
    expect(await app.taskHistory.getAll()).toHaveLength(5);
    // Every task has the priority the migration gives it ('medium'), as it would have had the
    // old installation been upgraded in place.
    expect((await app.taskHistory.getAll({ priority: 'medium' })).length).toBe(5);
  });

  // seed 003_9255a4fa349d5d28.txt:15 "Storage quotas and cleanup must manage disk space usage and remove
  //   obsolete data automatically"; :237 "Storage quotas and cleanup prevent excessive disk usage while
  //   preserving important data". examples/desktop/README.md: cleanup(retention) runs at every start and
  //   nightly, so years-old sessions at the quota no longer refuse today's (it once was never called).
  it('obsolete sessions are removed automatically: at the quota, a session of today is not refused because of ones years old', async () => {
    const now = new Date(2026, 10, 18, 12);
    const app = await openKazari({ keys: KEYS, dataDir: dir, now: () => now, maxSessions: 3 });
    opened.push(app);
    const session = (daysAgo: number) => ({
      startedAt: new Date(now.getTime() - daysAgo * 86_400_000).toISOString(),
      durationMs: 10,
      focusMs: 5,
      tasksCompleted: 0,
      interruptions: 0,
    });
    for (const days of [3 * 365, 3 * 365 + 1, 3 * 365 + 2]) await app.sessionMetrics.recordSession(session(days));
    await app.close();
    opened.length = 0;
    const again = await openKazari({ keys: KEYS, dataDir: dir, now: () => now, maxSessions: 3 });
    opened.push(again);
    await again.sessionMetrics.recordSession(session(0)); // was QUOTA_EXCEEDED before the start-up cleanup
    expect((await again.sessionMetrics.getMetrics('day')).sessions).toBe(1);
  });

  // examples/desktop/README.md: cleanup "nightly at 03:00", a verified backup "every hour while the app runs".
  it('schedules the nightly cleanup and the hourly backup on the store', async () => {
    const app = await openKazari({ keys: KEYS, dataDir: dir });
    opened.push(app);
    let schedules: Array<{ name: string; cron: string }> = [];
    for (let i = 0; i < 50 && schedules.length < 2; i++) {
      schedules = (await app.store.stats()).schedules;
      if (schedules.length < 2) await new Promise((r) => setTimeout(r, 20));
    }
    expect(schedules.map((s) => [s.name, s.cron]).sort()).toEqual([
      ['kazari-backup', '0 * * * *'],
      ['kazari-cleanup', '0 3 * * *'],
    ]);
  });
});
