import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createTracker } from '../../examples/deploy-tracker/tracker.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
it('probe', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'probe-'));
  const t = await createTracker({ url: `file:${join(dir, 'd')}`, keys: KEYS, cron: false });
  const d = (id: string, status: string, createdAt: string) => ({ id, repoName: 'r', branch: 'main', status, createdAt });
  await t.setData('deployments', [d('a', 'pending', '2026-06-01T09:00:00.500Z'), d('a', 'success', '2026-06-01T09:00:01Z')]);
  await t.setData('offs', [d('b', 'success', '2026-06-01T09:00:00Z'), d('b', 'pending', '2026-06-01T10:00:00+02:00')]);
  console.log(await t.pruneDupes('deployments'), JSON.stringify(await t.getData('deployments')));
  console.log(await t.pruneDupes('offs'), JSON.stringify(await t.getData('offs')));
  await t.recordDeployments([
    { id: 'c', repoName: 'r', branch: 'm', status: 'pending', createdAt: '2026-06-01T09:00:00Z', recordId: 'z' },
    { id: 'c', repoName: 'r', branch: 'm', status: 'success', createdAt: '2026-06-01T09:00:00Z', recordId: 'a' },
  ]);
  console.log(await t.pruneDupes('deployments'), JSON.stringify(await t.listDeployments({ id: 'c' })));
  await t.close();
  const t2 = await createTracker({ url: `file:${join(dir, 'e')}`, keys: KEYS, cron: false, clock: () => 1780000000000 });
  await t2.recordDeployment({ id: 'c', repoName: 'r', branch: 'm', status: 'pending', createdAt: '2026-06-01T09:00:00Z' });
  await t2.recordDeployment({ id: 'c', repoName: 'r', branch: 'm', status: 'success', createdAt: '2026-06-01T09:00:00Z' });
  console.log(await t2.pruneDupes('deployments'), JSON.stringify(await t2.listDeployments({ id: 'c' })));
  await t2.close();
  rmSync(dir, { recursive: true, force: true });
});
