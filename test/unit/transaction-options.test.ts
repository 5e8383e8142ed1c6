// README "Transactions": declared defaults inside a transaction, the retries option, and the
// CONFLICT after the last rerun. Each test failed before its fix.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DRIVERS, opened, codeOf, errorOf } from '../store-fixture.js';

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

  // A hostile audit: `tx.kv(name, { quota })` and `tx.collection(name, { quota })` wrote past
  // the quota, and `tx.kv(name, { encrypt: true })` wrote plain text: the options were dropped.
  it.each([
    ['kv', { quota: { records: 1 } }],
    ['kv', { encrypt: true }],
    ['collection', { quota: { records: 1 } }],
    ['collection', { indexes: ['x'] }],
  ] as const)(
    'tx.%s(name, options) is BAD_INPUT and writes nothing (options are declared on the store)',
    async (kind, options) => {
      const t = await opened(driver);
      try {
        const error = await errorOf(
          t.store.transaction(async (tx) => {
            const open = tx[kind] as (name: string, options: object) => { set?: unknown; insert?: unknown };
            const handle = open('things', options) as unknown as { set(k: string, v: unknown): Promise<unknown> };
            await handle.set('a', { id: 'a' });
          }),
        );
        if (typeof error === 'string') throw new Error(error);
        expect(error.code).toBe('BAD_INPUT');
        expect(error.hint).toContain(`store.${kind}("things"`);
        expect(await t.store.kv('things').count()).toBe(0);
        expect(await t.store.collection('things').count()).toBe(0);
      } finally {
        await t.dispose();
      }
    },
  );
});

describe('encryption declared on the store applies inside a transaction', () => {
  it('tx.kv(name) of a namespace declared with encrypt: true writes ciphertext (sqlite file scanned)', async () => {
    const t = await opened('sqlite', { encryption: { keys: `k1:${Buffer.alloc(32, 7).toString('base64')}` } });
    try {
      t.store.kv('secrets', { encrypt: true });
      t.store.collection('people', { encrypt: ['email'] });
      await t.store.transaction(async (tx) => {
        await tx.kv('secrets').set('k', 'PLAINTEXT-CANARY-1');
        await tx.collection('people').insert({ id: 'p', email: 'PLAINTEXT-CANARY-2' });
      });
      expect(await t.store.kv('secrets').get('k')).toBe('PLAINTEXT-CANARY-1');
      expect(await t.store.collection('people').get('p')).toEqual({ id: 'p', email: 'PLAINTEXT-CANARY-2' });
      await t.store.close();
      const bytes = Buffer.concat(readdirSync(t.dir).map((f) => readFileSync(join(t.dir, f))));
      expect(bytes.includes('PLAINTEXT-CANARY-1')).toBe(false);
      expect(bytes.includes('PLAINTEXT-CANARY-2')).toBe(false);
    } finally {
      await t.dispose();
    }
  });
});
