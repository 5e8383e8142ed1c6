// every ill-typed option of store.schedule is BAD_INPUT.
//
// README.md:785-788: "... a function that is not one, an unknown or ill-typed option, and a
// name already scheduled on this store are `BAD_INPUT`."
// (`leaseTtl` is a Duration: milliseconds or a string such as '1m'. `null` is neither; every
// other option already refuses `null`: timezone, protect, missed, history, onError.)
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError, type Store } from '../../src/index.js';

let store: Store;
beforeEach(async () => {
  store = await openStore({ url: 'memory:', sweepInterval: false });
});
afterEach(async () => {
  await store.close();
});

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return StrataError.is(error) ? error.code : `not a StrataError: ${String(error)}`;
  }
  return 'accepted';
};

describe('store.schedule ill-typed options', () => {
  it('the other options refuse null (control)', () => {
    for (const option of ['timezone', 'protect', 'missed', 'history', 'onError'])
      expect(
        codeOf(() => store.schedule('0 3 * * *', `j-${option}`, () => {}, { [option]: null } as never)),
        option,
      ).toBe('BAD_INPUT');
  });

  it('leaseTtl: null is BAD_INPUT, not silently the default', () => {
    expect(codeOf(() => store.schedule('0 3 * * *', 'job', () => {}, { leaseTtl: null } as never))).toBe('BAD_INPUT');
  });
});
