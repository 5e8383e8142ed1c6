// examples/deploy-tracker/README.md: "Unknown options, and a `clock` that is not a function, are
// `BAD_INPUT`", before anything is created; the same holds for `new DeployTracker(store, { clock })`.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError } from '../../src/index.js';
import { createTracker, DeployTracker } from './tracker.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-tracker-clock-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function refusal(f: () => Promise<unknown>): Promise<StrataError | string> {
  try {
    await f();
  } catch (error) {
    return error instanceof StrataError ? error : String(error);
  }
  return 'resolved';
}

describe('deploy tracker (seed 000): the clock option', () => {
  it('createTracker with a clock that is not a function is BAD_INPUT, and creates no store', async () => {
    const url = `file:${join(dir, 'store')}`;
    for (const clock of [5, null, 'now', new Date()]) {
      const error = await refusal(() => createTracker({ url, keys: KEYS, cron: false, clock: clock as never }));
      expect.soft(error, String(clock)).toBeInstanceOf(StrataError);
      expect.soft((error as StrataError).code).toBe('BAD_INPUT');
      expect.soft((error as StrataError).hint).toContain('clock');
    }
    expect(existsSync(join(dir, 'store'))).toBe(false);
  });

  it('new DeployTracker(store, { clock }) checks the clock too', async () => {
    const store = await openStore({ url: 'memory:', encryption: { keys: KEYS } });
    try {
      expect(() => new DeployTracker(store, { clock: 5 as never })).toThrow(StrataError);
      expect(new DeployTracker(store, { clock: () => 0 })).toBeInstanceOf(DeployTracker);
    } finally {
      await store.close();
    }
  });
});
