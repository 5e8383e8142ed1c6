// A filter whose getter (or Proxy trap) throws is the caller's input failing: BAD_INPUT with the
// error as cause, as for values (README.md: "so is a getter or `Proxy` that throws while the
// value is read"), never UNAVAILABLE, the backend's code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIVERS, openAll, seed, outcome, type Env } from './harness.js';
import type { DriverName, LooseCollection } from './harness.js';

describe('a throwing filter is BAD_INPUT', () => {
  let env: Env;
  let c: Record<DriverName, LooseCollection>;
  beforeAll(async () => {
    env = await openAll();
    c = await seed(env, 'throwing', [{ id: 'a', s: 'x' }]);
  });
  afterAll(async () => env?.dispose());
  for (const d of DRIVERS) {
    it(`${d}: getter that throws`, async () => {
      const filter = {
        get s(): string {
          throw new Error('boom');
        },
      };
      expect(await outcome(() => c[d].query(filter))).toMatchObject({ code: 'BAD_INPUT' });
    });
    it(`${d}: Proxy whose ownKeys throws`, async () => {
      const filter = new Proxy(
        {},
        {
          ownKeys() {
            throw new Error('boom');
          },
        },
      );
      expect(await outcome(() => c[d].count(filter))).toMatchObject({ code: 'BAD_INPUT' });
    });
  }
});
