// README "Transactions": declared defaults inside a transaction, the retries option, and the
// CONFLICT after the last rerun. Each test failed before its fix.
import { describe, expect, it } from 'vitest';
import { DRIVERS, opened, codeOf } from '../store-fixture.js';

describe.each(DRIVERS)('transactions on %s', (driver) => {
  // README.md:100-103: "`defaults` (and `{ default }`) apply to `get` and `getMany` of absent or
  // expired keys only ... `store.kv(name)` later in the same process gets the same defaults".
  // A transaction's kv handle of a namespace declared with defaults in this process ignores them.
  it('tx.kv(name) of a namespace declared with defaults reads the defaults, as store.kv(name) does', async () => {
    const t = await opened(driver);
    try {
      const s = t.store;
      s.kv('app', { defaults: { theme: 'light' } });
      expect(await s.kv('app').get('theme')).toBe('light'); // outside a transaction: the default
      const inside = await s.transaction(async (tx) => {
        const app = tx.kv<string>('app');
        return { get: await app.get('theme'), many: await app.getMany(['theme']) };
      });
      expect(inside).toEqual({ get: 'light', many: ['light'] });
    } finally {
      await t.dispose();
    }
  });

  // README.md:191-192: "**Options are checked**: an unknown option anywhere ... or an option of the
  // wrong type is `BAD_INPUT`"; README.md:296: "the function runs again (up to `retries`,
  // default 10, then `CONFLICT`)". `retries: 'two'` is accepted, and since `attempt >= 'two'` is
  // never true, the function is rerun without any bound instead of CONFLICT after a few runs.
  it('a retries option of the wrong type is BAD_INPUT, not an unbounded number of reruns', async () => {
    const t = await opened(driver);
    try {
      const s = t.store;
      const other = driver === 'memory' ? s : await t.open();
      let attempts = 0;
      const code = await codeOf(
        s.transaction(
          async (tx) => {
            attempts++;
            await tx.kv('r').get('x');
            // Another writer changes what was read, on each of the first 12 runs.
            if (attempts <= 12) await other.kv('r').set('x', attempts);
            await tx.kv('r').set('y', attempts);
          },
          { retries: 'two' as never },
        ),
      );
      expect({ code, attempts }).toEqual({ code: 'BAD_INPUT', attempts: 0 });
    } finally {
      await t.dispose();
    }
  });

  // README.md:296: "(up to `retries`, default 10, then `CONFLICT`)" and README.md:312-314: "If the
  // function throws after reading a state that was already out of date, it is rerun as well;
  // an error thrown on a consistent state is passed on." On the last allowed run, an error the
  // function threw because it read an out-of-date (never existing) state is passed on as if it
  // had been thrown on a consistent state, instead of CONFLICT.
  it('an error thrown on an out-of-date state on the last run is CONFLICT, not that error', async () => {
    const t = await opened(driver);
    try {
      const s = t.store;
      const other = driver === 'memory' ? s : await t.open();
      await s.kv<number>('bank').setMany([
        ['a', 50],
        ['b', 50],
      ]);
      let attempts = 0;
      let moves = 0;
      // Another writer moves 10 from a to b in one atomic batch (the sum stays 100).
      const move = async (): Promise<void> => {
        moves++;
        const bank = other.kv<number>('bank');
        const [a, b] = (await bank.getMany(['a', 'b'])) as [number, number];
        await bank.setMany([
          ['a', a - 10],
          ['b', b + 10],
        ]);
      };
      const code = await codeOf(
        s.transaction(
          async (tx) => {
            attempts++;
            const bank = tx.kv<number>('bank');
            const a = (await bank.get('a'))!;
            await move(); // between the two reads, every run
            const b = (await bank.get('b'))!;
            // Never true of a committed state: only of the half-moved one this run read.
            if (a + b !== 100) throw new Error(`invariant broken: ${a} + ${b}`);
            await bank.set('checked', a + b);
          },
          { retries: 2 },
        ),
      );
      expect(attempts).toBe(3);
      expect(moves).toBe(3);
      expect(code).toBe('CONFLICT');
    } finally {
      await t.dispose();
    }
  });
});
