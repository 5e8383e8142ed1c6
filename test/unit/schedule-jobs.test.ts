// The built-in job functions (jobs.dedupe, jobs.retain, jobs.sweepExpired), called as a
// schedule would call them, and one of them actually scheduled.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobs, openStore, StrataError, type ScheduleContext, type Store } from '../../src/index.js';

const DAY = 86_400_000;
const context: ScheduleContext = { name: 'test', slot: new Date(), signal: new AbortController().signal };
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return StrataError.is(error) ? error.code : 'not a StrataError';
  }
  return undefined;
};

let store: Store;
beforeEach(async () => {
  store = await openStore({ url: 'memory:', sweepInterval: false });
});
afterEach(async () => {
  await store.close();
});

describe('jobs', () => {
  it('retain deletes documents whose date field (ISO string or epoch ms) is older than olderThan', async () => {
    const events = store.collection('events');
    const now = Date.now();
    await events.insertMany([
      { id: 'old-date', createdAt: new Date(now - 40 * DAY) },
      { id: 'old-ms', createdAt: now - 31 * DAY },
      { id: 'new-date', createdAt: new Date(now - 2 * DAY) },
      { id: 'new-ms', createdAt: now - DAY },
      { id: 'no-date' },
      { id: 'not-a-date', createdAt: true },
    ]);
    await jobs.retain('events', { olderThan: '30d', field: 'createdAt' })(store, context);
    expect((await events.keys()).sort()).toEqual(['new-date', 'new-ms', 'no-date', 'not-a-date']);
  });

  it('retain checks its arguments when it is made', () => {
    expect(codeOf(() => jobs.retain('events', { olderThan: 'soon' as never, field: 'createdAt' }))).toBe('BAD_INPUT');
    expect(codeOf(() => jobs.retain('events', { olderThan: '30d', field: '' }))).toBe('BAD_INPUT');
    expect(codeOf(() => jobs.retain('events', { olderThan: '30d', field: 'a..b' }))).toBe('BAD_INPUT');
    expect(codeOf(() => jobs.retain('events', { olderThan: '30d', field: 'createdAt', fieldd: 1 } as never))).toBe('BAD_INPUT');
    expect(codeOf(() => jobs.retain('bad name', { olderThan: '30d', field: 'createdAt' }))).toBe('BAD_INPUT');
    expect(codeOf(() => jobs.retain('events', undefined as never))).toBe('BAD_INPUT');
  });

  it('retain refuses at once a field the query language refuses at run time', async () => {
    for (const field of ['__proto__', 'a.constructor', '$where', 'x'.repeat(600), 5 as never]) {
      expect(
        codeOf(() => jobs.retain('events', { olderThan: '30d', field })),
        String(field),
      ).toBe('BAD_INPUT');
    }
    await store.collection('events').insert({ id: 'e', at: 0 });
    await jobs.retain('events', { olderThan: '1d', field: 'at' })(store, context);
    expect(await store.collection('events').count()).toBe(0);
  });

  it('dedupe keeps one document per group, with the options of collection.dedupe', async () => {
    const deployments = store.collection('deployments', { key: 'key' });
    await deployments.insertMany([
      { key: 'a', id: 'd1', createdAt: '2026-01-01' },
      { key: 'b', id: 'd1', createdAt: '2026-01-03' },
      { key: 'c', id: 'd2', createdAt: '2026-01-02' },
    ]);
    await jobs.dedupe('deployments', { by: 'id', keep: { newest: 'createdAt' } })(store, context);
    expect((await deployments.keys()).sort()).toEqual(['b', 'c']);
    expect(codeOf(() => jobs.dedupe('deployments', { byy: 'id' } as never))).toBe('BAD_INPUT');
  });

  it('sweepExpired removes expired records (store.purgeExpired)', async () => {
    const sessions = store.kv('sessions');
    await sessions.set('s1', 1, { ttl: 30 });
    await sessions.set('s2', 2);
    await new Promise((r) => setTimeout(r, 60));
    expect((await store.stats()).kv[0]).toMatchObject({ records: 1, expired: 1 });
    await jobs.sweepExpired()(store, context);
    expect((await store.stats()).kv[0]).toMatchObject({ records: 1, expired: 0 });
  });

  it('a built-in job runs on a schedule', async () => {
    const events = store.collection('events');
    await events.insert({ id: 'old', at: new Date(Date.now() - 2 * DAY) });
    const job = store.schedule('* * * * * *', 'retention', jobs.retain('events', { olderThan: '1d', field: 'at' }));
    const end = Date.now() + 5_000;
    while ((await events.count({})) > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    await job.stop();
    expect(await events.count({})).toBe(0);
    expect((await store.stats()).schedules[0]!.runs[0]!.outcome).toBe('ok');
  });
});
