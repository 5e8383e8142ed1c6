// The auth kit across processes (real child processes on one sqlite file or file store,
// released together by a start barrier): an OAuth state is consumed by exactly one of the
// racers, and a one-time code's 5 attempts are shared by every process guessing it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, LineChild, runTogether, strata, tempDir } from '../reliability/helpers.js';
import type * as AuthApi from '../../src/kits/auth/index.js';

// The built kit, as the children run it (see reliability/helpers.ts); types from src/.
const { OAuthStateStore, OtpStore } = (await import(
  new URL('../../dist/kits/auth/index.js', import.meta.url).href
)) as typeof AuthApi;
const { openStore } = strata;

const CASES = [
  { name: 'sqlite', url: (dir: string) => `sqlite:${join(dir, 'auth.db')}?durability=normal` },
  { name: 'file', url: (dir: string) => `file:${join(dir, 'store')}?durability=normal` },
];
const WORKERS = 3;

/** Starts one worker per input file, releases them together, returns each one's results. */
async function race<R>(url: string, task: string, inputs: unknown[], dir: string): Promise<R[]> {
  const workers = inputs.map((input, i) => {
    const path = join(dir, `inputs-${task}-${i}.json`);
    writeFileSync(path, JSON.stringify(input));
    return new LineChild(fixture('auth-worker.mjs'), [url, task, path], { stdin: true });
  });
  return runTogether<R>(workers, 60_000);
}

for (const c of CASES)
  describe(`${c.name}: the auth kit across ${WORKERS} processes`, () => {
    it('each OAuth state is consumed by exactly one process (300 states raced)', async () => {
      const dir = await tempDir(`auth-state-${c.name}`);
      try {
        const url = c.url(dir.path);
        const setup = await openStore({ url, sweepInterval: false });
        const states = new OAuthStateStore(setup);
        const made: string[] = [];
        for (let i = 0; i < 300; i++) made.push(await states.create({ i }));
        await setup.close();
        // Every worker walks the same list in the same order, so they contend on each state.
        const results = await race<boolean[]>(url, 'states', Array(WORKERS).fill(made), dir.path);
        const winners = made.map((_, i) => results.filter((r) => r[i]).length);
        expect(winners.filter((n) => n !== 1)).toEqual([]);
        const perWorker = results.map((r) => r.filter(Boolean).length);
        console.log(`[auth] ${c.name}: states won per worker ${perWorker.join(' / ')}`);
        // The workers really overlapped (one finishing before the others started proves nothing).
        expect(perWorker.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
        // Nothing is left to replay.
        const check = await openStore({ url, sweepInterval: false });
        expect(await check.kv('auth.oauth-state').count()).toBe(0);
        await check.close();
      } finally {
        await dir.dispose();
      }
    });

    it('wrong guesses from every process share one code’s 5 attempts; then the right code is refused', async () => {
      const dir = await tempDir(`auth-otp-${c.name}`);
      try {
        const url = c.url(dir.path);
        const setup = await openStore({ url, sweepInterval: false });
        const otp = new OtpStore(setup);
        const rights = new Map<string, string>();
        for (let i = 0; i < 20; i++) rights.set(`user${i}@example.com`, (await otp.issue(`user${i}@example.com`)).code);
        await setup.close();
        // Each worker tries 4 wrong codes on each subject: 12 guesses per code, 5 allowed.
        const inputs = Array.from({ length: WORKERS }, (_, w) =>
          [...rights].map(([subject, right]) => [
            subject,
            Array.from({ length: 4 }, (_, i) => String((Number(right) + 1 + w * 4 + i) % 1_000_000).padStart(6, '0')),
          ]),
        );
        const results = await race<string[][]>(url, 'otp', inputs, dir.path);
        const check = await openStore({ url, sweepInterval: false });
        const verify = new OtpStore(check);
        let subjectIndex = 0;
        for (const [subject, right] of rights) {
          const outcomes = results.flatMap((r) => r[subjectIndex]!);
          expect(
            outcomes.filter((o) => o === 'invalid'),
            subject,
          ).toHaveLength(5);
          expect(
            outcomes.filter((o) => o === 'locked'),
            subject,
          ).toHaveLength(WORKERS * 4 - 5);
          expect(await verify.verify(subject, right)).toEqual({ ok: false, reason: 'locked' });
          subjectIndex++;
        }
        await check.close();
      } finally {
        await dir.dispose();
      }
    });

    it('the right code verified by every process at once: exactly one succeeds', async () => {
      const dir = await tempDir(`auth-otp-ok-${c.name}`);
      try {
        const url = c.url(dir.path);
        const setup = await openStore({ url, sweepInterval: false });
        const otp = new OtpStore(setup);
        const inputs: Array<[string, string[]]> = [];
        for (let i = 0; i < 50; i++) inputs.push([`s${i}`, [(await otp.issue(`s${i}`)).code]]);
        await setup.close();
        const results = await race<string[][]>(url, 'otp', Array(WORKERS).fill(inputs), dir.path);
        inputs.forEach(([subject], i) => {
          const outcomes = results.map((r) => r[i]![0]);
          expect(
            outcomes.filter((o) => o === 'ok'),
            subject,
          ).toHaveLength(1);
          expect(
            outcomes.filter((o) => o !== 'ok').every((o) => o === 'missing'),
            subject,
          ).toBe(true);
        });
      } finally {
        await dir.dispose();
      }
    });
  });
