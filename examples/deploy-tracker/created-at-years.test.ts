// Seed 000 (deploy bot): DEPLOYMENT_RECORDS "timestamp createdAt". examples/deploy-tracker/README.md:
// "A deployment record's `createdAt` must be a `Date` or an ISO 8601 date-time with a zone ...,
// either in the years 0000-9999". Both forms cover the same years: an ISO string in 0000-0099
// is accepted as a Date in those years is, and stored the same.
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
  dir = mkdtempSync(join(tmpdir(), 'strata-tracker-years-'));
  t = await createTracker({ url: `file:${join(dir, 'store')}`, keys: KEYS, cron: false });
});
afterEach(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

const rec = (id: string, createdAt: string | Date) => ({ id, repoName: 'r', branch: 'b', status: 's', createdAt });

describe('deploy tracker (seed 000): createdAt in the years 0000-9999, as a Date or an ISO string', () => {
  it('an ISO string in the years 0000-0099 is accepted and stored as the Date of that instant is', async () => {
    const asDate = await t.recordDeployment(rec('d1', new Date('0050-01-01T00:00:00Z')));
    expect(asDate.createdAt).toBe('0050-01-01T00:00:00.000Z');
    const cases: Array<[string, string]> = [
      ['0050-01-01T00:00:00Z', '0050-01-01T00:00:00.000Z'],
      ['0000-01-01T00:00:00Z', '0000-01-01T00:00:00.000Z'],
      ['0099-12-31T23:59:59.5+02:00', '0099-12-31T21:59:59.500Z'],
      ['0001-03-01T10:00-0130', '0001-03-01T11:30:00.000Z'],
    ];
    for (const [text, stored] of cases) expect.soft((await t.recordDeployment(rec('d2', text))).createdAt, text).toBe(stored);
  });

  it('a date-time past 9999 in UTC, or with a space for the T, is BAD_INPUT', async () => {
    for (const text of ['9999-12-31T23:00:00-02:00', '0050-01-01 00:00:00Z']) {
      const error = await t.recordDeployment(rec('d3', text)).catch((e: unknown) => e);
      expect.soft(error, text).toBeInstanceOf(StrataError);
      expect.soft((error as StrataError).code, text).toBe('BAD_INPUT');
    }
  });
});
