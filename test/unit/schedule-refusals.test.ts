// README "Errors": "Every failure you can act on is a StrataError with a stable code, the
// failed op, a hint that says what to do"; "Every refusal carries a hint." Refusals of
// store.schedule() and of the built-in jobs' makers, each checked for code BAD_INPUT, its op,
// and a hint that the message ends with, as every other refusal's does. These failed before
// the fix: options null, protect, history and onError had no hint, nor did jobs.dedupe's
// options null and an unknown keep; a bad name, leaseTtl 0 or '2d', a bad olderThan and a bad
// collection name (all from checks shared with other calls) had no op. (That every hint names
// only things that exist is held by hints.test.ts, which reads these hints from the source.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs, openStore, StrataError, type Store } from '../../src/index.js';

let store: Store;
beforeAll(async () => {
  store = await openStore({ url: 'memory:', sweepInterval: false });
});
afterAll(() => store.close());

const f = (): void => {};
function refusal(fn: () => unknown): { code: string; op: unknown; hint: unknown; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof StrataError) return { code: e.code, op: e.op, hint: e.hint, message: e.message };
    return { code: `not a StrataError: ${String(e)}`, op: undefined, hint: undefined, message: '' };
  }
  return { code: 'accepted', op: undefined, hint: undefined, message: '' };
}

const SCHEDULE_CASES: Array<[string, () => unknown]> = [
  ['options null', () => store.schedule('0 3 * * *', 'a', f, null as never)],
  ['options an array', () => store.schedule('0 3 * * *', 'a', f, [] as never)],
  ['an unknown option', () => store.schedule('0 3 * * *', 'a', f, { tz: 'UTC' } as never)],
  ['protect not a boolean', () => store.schedule('0 3 * * *', 'a', f, { protect: 'yes' as never })],
  ["missed: 'ONCE'", () => store.schedule('0 3 * * *', 'a', f, { missed: 'ONCE' as never })],
  ['history 0', () => store.schedule('0 3 * * *', 'a', f, { history: 0 })],
  ['onError not a function', () => store.schedule('0 3 * * *', 'a', f, { onError: 5 as never })],
  ['leaseTtl 0', () => store.schedule('0 3 * * *', 'a', f, { leaseTtl: 0 })],
  ['leaseTtl 2d', () => store.schedule('0 3 * * *', 'a', f, { leaseTtl: '2d' })],
  ['leaseTtl 1s', () => store.schedule('0 3 * * *', 'a', f, { leaseTtl: '1s' })],
  ['name with a space', () => store.schedule('0 3 * * *', 'a b', f)],
  ['name __proto__', () => store.schedule('0 3 * * *', '__proto__', f)],
  ['fn not a function', () => store.schedule('0 3 * * *', 'a', 5 as never)],
  ['a bad cron expression', () => store.schedule('0 3 * *', 'a', f)],
];
const JOB_CASES: Array<[string, string, () => unknown]> = [
  ['jobs.dedupe', 'options null', () => jobs.dedupe('events', null as never)],
  ['jobs.dedupe', "keep: 'middle'", () => jobs.dedupe('events', { keep: 'middle' as never })],
  ['jobs.dedupe', 'by: []', () => jobs.dedupe('events', { by: [] })],
  ['jobs.dedupe', 'an unknown option', () => jobs.dedupe('events', { key: 'id' } as never)],
  ['jobs.dedupe', 'bad collection name', () => jobs.dedupe('a b')],
  ['jobs.retain', 'olderThan 0', () => jobs.retain('events', { olderThan: 0, field: 'createdAt' })],
  ['jobs.retain', 'olderThan missing', () => jobs.retain('events', { field: 'createdAt' } as never)],
  ['jobs.retain', 'options null', () => jobs.retain('events', null as never)],
  ['jobs.retain', 'a bad field', () => jobs.retain('events', { olderThan: '1d', field: '$where' })],
  ['jobs.retain', 'bad collection name', () => jobs.retain('a b', { olderThan: '1d', field: 'createdAt' })],
];

function expectRefusal(fn: () => unknown, op: string): void {
  const r = refusal(fn);
  expect(r.code).toBe('BAD_INPUT');
  expect(r.op).toBe(op);
  expect(typeof r.hint === 'string' && r.hint.length > 0, `hint: ${String(r.hint)}`).toBe(true);
  expect(r.message.endsWith(`(${String(r.hint)})`), r.message).toBe(true);
}

describe('store.schedule refusals carry op and hint', () => {
  for (const [label, fn] of SCHEDULE_CASES) it(label, () => expectRefusal(fn, 'store.schedule'));

  it('the hints say what to pass', () => {
    expect(refusal(SCHEDULE_CASES[0]![1]).hint).toMatch(/pass an object with some of: timezone/);
    expect(refusal(() => store.schedule('0 3 * * *', 'a', f, { protect: 1 as never })).hint).toBe('pass true or false');
    expect(refusal(() => store.schedule('0 3 * * *', 'a', f, { history: 101 })).hint).toMatch(/history: 20/);
    expect(refusal(() => store.schedule('0 3 * * *', 'a', f, { onError: 'log' as never })).hint).toMatch(/\(error\) =>/);
  });

  it('nothing was scheduled by a refused call', () => {
    expect(store.schedule('0 3 * * *', 'a', f).name).toBe('a');
  });
});

describe('built-in job makers: refusals carry op and hint', () => {
  for (const [op, label, fn] of JOB_CASES) it(`${op}: ${label}`, () => expectRefusal(fn, op));
});

describe('the shared checks are unchanged for their other callers', () => {
  it("a bad collection name from store.collection(): BAD_INPUT with the name check's own hint", () => {
    const r = refusal(() => store.collection('a b'));
    expect(r).toMatchObject({ code: 'BAD_INPUT', hint: expect.stringMatching(/letters, digits/) });
  });

  it('collection.dedupe() refuses an unknown keep with op collection.dedupe', async () => {
    const error = await store
      .collection('events')
      .dedupe({ keep: 'middle' as never })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BAD_INPUT', op: 'collection.dedupe' });
  });
});
