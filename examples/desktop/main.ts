// `npm run example:desktop`: the Kazari desktop app's persistence flow, end to end, in
// .strata/desktop (a real app keeps it in the OS data directory: openKazari({ env })).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { openKazari } from './persistence.js';

const DATA_DIR = '.strata/desktop';
const KEY_FILE = '.strata/desktop.keys';

// The keyring: STRATA_KEYS, else a key file made once (0600) and reused by later runs.
function keys(): string {
  if (process.env.STRATA_KEYS) return process.env.STRATA_KEYS;
  mkdirSync('.strata', { recursive: true, mode: 0o700 });
  try {
    writeFileSync(KEY_FILE, `k1:${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return readFileSync(KEY_FILE, 'utf8').trim();
}

const app = await openKazari({ keys: keys(), dataDir: DATA_DIR });
console.log(`store: ${DATA_DIR}/kazari.db (SQLite); tokens, API keys and task notes encrypted`);

await app.userSettings.update({ theme: 'dark', tokens: { github: `gho_${randomBytes(12).toString('hex')}` } });
const task = await app.taskHistory.create({ title: 'Plan the week', status: 'todo', priority: 'high', notes: 'private' });
await app.taskHistory.update(task.id, { status: 'done' });
await app.sessionMetrics.recordSession({
  startedAt: new Date().toISOString(),
  durationMs: 25 * 60_000,
  focusMs: 21 * 60_000,
  tasksCompleted: 1,
  interruptions: 2,
});
const today = await app.sessionMetrics.getDailyMetrics(new Date());
const trends = await app.sessionMetrics.calculateTrends('week');
console.log(`settings: theme ${(await app.userSettings.getAll()).theme}; tasks: ${(await app.taskHistory.getAll()).length}`);
console.log(
  `today: ${today.sessions} sessions, ${Math.round(today.focusMs / 60_000)} min of focus (${Math.round(today.focusRatio * 100)}%)`,
);
console.log(
  `this week vs last: focus ${trends.focusChange === null ? 'n/a (no sessions last week)' : `${Math.round(trends.focusChange * 100)}%`}`,
);
const report = await app.store.verify();
console.log(`verify: ${report.ok ? 'ok' : 'issues'} (${report.checked} records checked)`);
await app.close();
