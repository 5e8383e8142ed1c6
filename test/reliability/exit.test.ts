// store.close() releases every handle and timer: a script that used a store (watchers left
// subscribed included) and closed it exits by itself, promptly, with code 0.
import { describe, it } from 'vitest';
import { join } from 'node:path';
import { fixture, LineChild, strata, tempDir } from './helpers.js';

const { openStore } = strata;

const EXIT_WITHIN_MS = 2_000;

const CASES = [
  { name: 'sqlite', url: (dir: string) => `sqlite:${join(dir, 'exit.db')}`, persistent: true },
  { name: 'file', url: (dir: string) => `file:${join(dir, 'store')}`, persistent: true },
  { name: 'memory', url: () => 'memory:', persistent: false },
];

describe.concurrent('a script that closes its store exits by itself', () => {
  for (const c of CASES) {
    it(`${c.name}: exits within ${EXIT_WITHIN_MS} ms of store.close()`, async ({ expect }) => {
      const dir = await tempDir(`exit-${c.name}`);
      try {
        const url = c.url(dir.path);
        const child = new LineChild(fixture('exit-script.mjs'), [url]);
        try {
          await child.waitFor('closed', 30_000, 'store.close() to resolve');
          const closedAt = Date.now();
          const exit = await child.exit(EXIT_WITHIN_MS).catch((error: Error) => {
            throw new Error(
              `${c.name}: the process still runs ${EXIT_WITHIN_MS} ms after store.close(): a handle or timer was left open (${error.message})`,
            );
          });
          expect(exit.code, child.stderr).toBe(0);
          expect(Date.now() - closedAt).toBeLessThan(EXIT_WITHIN_MS);
        } finally {
          child.kill();
        }
        if (c.persistent) {
          const store = await openStore({ url, sweepInterval: false });
          try {
            expect(await store.kv('app').get('n')).toBe(3);
            expect(await store.collection('tasks').get('t1')).toEqual({ id: 't1', status: 'done' });
          } finally {
            await store.close();
          }
        }
      } finally {
        await dir.dispose();
      }
    }, 60_000);
  }
});
