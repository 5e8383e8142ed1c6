// jobs.retain judges "older than olderThan when the run starts" by the store's clock
// (openStore({ clock }): "The clock, in epoch ms (for tests)"), the clock that wrote the
// documents' timestamps and decides every expiry, not by Date.now(). Failed before the fix
// on all three drivers: with the store clock 60 days behind, a document the store had just
// written (timestamps: true) was deleted by a 30-day retention; 60 days ahead, a document
// 40 days old by that clock was kept.
import { afterEach, describe, expect, it } from 'vitest';
import { jobs, type ScheduleContext } from '../../src/index.js';
import { DRIVERS, opened, type Opened } from '../store-fixture.js';

const DAY = 86_400_000;
const context: ScheduleContext = { name: 'retention', slot: new Date(), signal: new AbortController().signal };
let o: Opened | undefined;
afterEach(async () => {
  await o?.dispose();
  o = undefined;
});

describe('jobs.retain goes by the store clock', () => {
  for (const driver of DRIVERS) {
    it(`${driver}: a document just written (timestamps, store clock 60 days behind) survives olderThan '30d'`, async () => {
      const now = Date.now() - 60 * DAY;
      o = await opened(driver, { clock: () => now });
      const events = o.store.collection('events', { timestamps: true });
      await events.insert({ id: 'fresh' });
      const removed = await jobs.retain('events', { olderThan: '30d', field: 'createdAt' })(o.store, context);
      expect(removed).toBe(0);
      expect(await events.get('fresh')).not.toBeNull();
    });

    it(`${driver}: a document 40 days old by the store clock (60 days ahead) is deleted, one 1 day old is kept`, async () => {
      const now = Date.now() + 60 * DAY;
      o = await opened(driver, { clock: () => now });
      const events = o.store.collection('events');
      await events.insert({ id: 'old', createdAt: new Date(now - 40 * DAY).toISOString() });
      await events.insert({ id: 'old-ms', createdAt: now - 31 * DAY });
      await events.insert({ id: 'new', createdAt: new Date(now - DAY).toISOString() });
      const removed = await jobs.retain('events', { olderThan: '30d', field: 'createdAt' })(o.store, context);
      expect(removed).toBe(2);
      expect((await events.query({})).map((d) => d.id)).toEqual(['new']);
    });
  }

  it('the cutoff is taken once, when the run starts, from the store clock', async () => {
    let now = Date.UTC(2030, 0, 31);
    o = await opened('memory', { clock: () => now });
    const events = o.store.collection('events');
    await events.insertMany(
      Array.from({ length: 1_200 }, (_, i) => ({ id: `e${String(i).padStart(4, '0')}`, createdAt: Date.UTC(2030, 0, 1) + i })),
    );
    const run = jobs.retain('events', { olderThan: '30d', field: 'createdAt' })(o.store, context);
    now += 365 * DAY; // the clock moves on while the run pages: its cutoff does not
    // The cutoff is 2030-01-01T00:00:00Z: none of them is older than that.
    expect(await run).toBe(0);
    expect(await events.count()).toBe(1_200);
  });

  it('a store whose clock returns NaN: BAD_INPUT naming the clock, nothing deleted', async () => {
    let now = Date.now();
    o = await opened('memory', { clock: () => now });
    const events = o.store.collection('events');
    await events.insert({ id: 'old', createdAt: Date.now() - 40 * DAY });
    now = Number.NaN;
    const error = await jobs
      .retain('events', { olderThan: '30d', field: 'createdAt' })(o.store, context)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BAD_INPUT', op: 'jobs.retain', hint: expect.stringMatching(/clock/) });
    now = Date.now();
    expect(await events.count()).toBe(1);
  });
});
