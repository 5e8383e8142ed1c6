// what a job function throws is recorded as an `error` outcome with its message, and
// the run's lease is released, whatever was thrown.
//
// README.md:814-823: "**Outcomes** are kept in the store ... `outcome` `'ok' | 'error' |
// 'skipped' | 'abandoned'` ... For a function that threw, `error` is the message of what it
// threw (a `StrataError`'s code first), cut to 500 characters ... The schedule goes on after
// an error."
// README.md:770: "await prune.stop();  // resolves once a run in progress has finished and been
// recorded"
// README.md:825-827: "**Failures of the scheduler itself** (the store is `LOCKED` or `CORRUPT`
// when a slot is claimed or recorded) go to `onError(error)`" -- a job's own error is not one.
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type StrataError, type Store } from '../../src/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(25);
  }
}

let store: Store;
beforeEach(async () => {
  store = await openStore({ url: 'memory:', sweepInterval: false });
});
afterEach(async () => {
  await store.close();
});

describe('a job that throws an unusual error', () => {
  it('an Error made in another realm (node:vm) is recorded with its message', async () => {
    let calls = 0;
    const job = store.schedule('* * * * * *', 'vm-error', () => {
      calls++;
      throw runInNewContext('new Error("upstream said no")') as Error;
    });
    await until(() => calls >= 1, 3_000);
    await job.stop();
    const [stats] = (await store.stats()).schedules;
    expect(stats!.runs[0]).toMatchObject({ outcome: 'error', error: 'upstream said no' });
  });

  it('an Error whose message getter throws: the run is still recorded, its lease released, onError not called', async () => {
    const reported: StrataError[] = [];
    let calls = 0;
    const job = store.schedule(
      '* * * * * *',
      'odd-error',
      () => {
        calls++;
        const error = new Error('placeholder');
        Object.defineProperty(error, 'message', {
          get() {
            throw new Error('no message for you');
          },
        });
        throw error;
      },
      { onError: (e) => reported.push(e) },
    );
    await until(() => calls >= 1, 3_000);
    await job.stop();
    const [stats] = (await store.stats()).schedules;
    // stop() resolved: the run finished, so it must be recorded and hold no lease.
    expect({ running: stats!.running, outcome: stats!.runs[0]?.outcome, reported: reported.map((e) => e.message) }).toEqual({
      running: [],
      outcome: 'error',
      reported: [],
    });
  });
});
