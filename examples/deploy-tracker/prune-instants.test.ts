// examples/deploy-tracker (seed 000): pruneDupes' "newest" is the latest instant.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataError } from '../../src/index.js';
import { createTracker, type DeployTracker } from './tracker.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
let dir: string;
let t: DeployTracker;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-tracker-'));
  t = await createTracker({ url: `file:${join(dir, 'data')}`, keys: KEYS, cron: false });
});
afterEach(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

const rec = (id: string, status: string, createdAt: string) => ({ id, repoName: 'web-app', branch: 'main', status, createdAt });

describe('seed 000: pruneDupes keeps the newest', () => {
  // seed 000_c5de2272c354dd77.txt:59-60 "pruneDupes(key,idKey='id') Removes duplicate entries from a list
  //   stored under the given key", :92 "Deployment tracking updates using `setData` to store deployment records".
  // examples/deploy-tracker/README.md:62-64 "`pruneDupes(key, idKey)` prunes the collection `key` and also a
  //   list stored with `setData(key, [...])`, the seed's own form."; README.md:51 "keeps the newest (createdAt)";
  //   src/cli/demo-tracker.ts:152 "keeping the newest (greatest `createdAt`, else the last written)".
  it('a setData list: the newest createdAt instant survives, whatever ISO spelling (with or without ms, with an offset)', async () => {
    // pending at 09:00:00Z, then success half a second later (GitHub webhooks send no milliseconds, JS toISOString does).
    await t.setData('deployments', [
      rec('d1', 'pending', '2026-06-01T09:00:00Z'),
      rec('d1', 'success', '2026-06-01T09:00:00.500Z'),
    ]);
    // pending at 08:00Z written with a +02:00 offset, then success at 09:00Z.
    await t.setData('offsets', [rec('d2', 'pending', '2026-06-01T10:00:00+02:00'), rec('d2', 'success', '2026-06-01T09:00:00Z')]);
    expect(await t.pruneDupes('deployments')).toBe(1);
    expect(await t.pruneDupes('offsets')).toBe(1);
    const ms = (await t.getData<Array<{ status: string }>>('deployments'))!.map((r) => r.status);
    const off = (await t.getData<Array<{ status: string }>>('offsets'))!.map((r) => r.status);
    expect({ ms, off }).toEqual({ ms: ['success'], off: ['success'] });
  });

  // examples/deploy-tracker/README.md: "comparing `createdAt` as instants: an ISO string ... or epoch
  //   milliseconds (a number, what `Date.now()` gives)". Seed 000: "value (any) ... must be JSON serializable".
  it('a setData list with createdAt as epoch milliseconds (alone or mixed with ISO strings): the newest record is kept', async () => {
    const now = Date.parse('2026-06-01T10:00:00Z');
    await t.setData('epoch', [
      { id: 'd5', status: 'success', createdAt: now + 60_000 }, // newest, earlier in the list
      { id: 'd5', status: 'pending', createdAt: now },
    ]);
    await t.setData('mixed', [
      { id: 'd6', status: 'success', createdAt: now + 1 },
      { id: 'd6', status: 'pending', createdAt: '2026-06-01T10:00:00Z' },
      { id: 'd6', status: 'queued', createdAt: 'not a time' }, // counts as the oldest
    ]);
    expect(await t.pruneDupes('epoch')).toBe(1);
    expect(await t.pruneDupes('mixed')).toBe(2);
    expect(await t.getData('epoch')).toEqual([{ id: 'd5', status: 'success', createdAt: now + 60_000 }]);
    expect(await t.getData('mixed')).toEqual([{ id: 'd6', status: 'success', createdAt: now + 1 }]);
  });

  // examples/deploy-tracker/README.md: "Ties in `createdAt` keep the later written; records written in
  // one batch share their write time, so a tie among them keeps the greatest `recordId`".
  it('the deployments collection: a tie in createdAt keeps the later written; within one batch the greatest recordId', async () => {
    const at = '2026-06-01T09:00:00Z';
    await t.recordDeployments([
      { ...rec('d3', 'pending', at), recordId: 'z-first' },
      { ...rec('d3', 'success', at), recordId: 'a-second' },
    ]);
    expect(await t.pruneDupes('deployments')).toBe(1);
    expect((await t.listDeployments({ id: 'd3' })).map((r) => r.status)).toEqual(['pending']);
  });

  // examples/deploy-tracker/README.md:66-69 "`createdAt` must be a `Date` or an ISO 8601 date-time with a zone
  //   ... it is stored in UTC, so `pruneDupes`' "newest" is the latest instant". A Date is accepted whatever its
  //   year (src/cli/demo-tracker.ts:197-198), and stored as toISOString(): past 9999 that is '+010000-...'.
  it('boundary dates: a record created at a Date past year 9999 is the newest, and the prune keeps it', async () => {
    const far = new Date(Date.UTC(10000, 0, 1));
    await t.recordDeployment({ ...rec('d4', 'pending', '2026-06-01T09:00:00Z') });
    // Refusing such a Date (BAD_INPUT, as a string past 9999 is) would also honour the README.
    const stored = await t
      .recordDeployment({ id: 'd4', repoName: 'web-app', branch: 'main', status: 'success', createdAt: far })
      .catch((error: unknown) => (StrataError.is(error, 'BAD_INPUT') ? null : Promise.reject(error)));
    if (stored === null) return;
    expect(stored.createdAt).toBe('+010000-01-01T00:00:00.000Z');
    expect(await t.pruneDupes('deployments')).toBe(1);
    expect((await t.listDeployments({ id: 'd4' })).map((r) => r.status)).toEqual(['success']);
  });
});
