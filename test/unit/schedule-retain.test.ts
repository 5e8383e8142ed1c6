// jobs.retain must delete only documents whose field is an ISO date string or epoch ms
// older than `olderThan`, and keep documents that hold another type.
//
// README.md:840-843: "`jobs.retain(collection, { olderThan, field })` deletes, through
// `deleteWhere`, the documents whose `field` is older than `olderThan` when the run starts: an
// ISO date string (how a `Date` is stored) or epoch milliseconds; documents without the field,
// or holding another type, are kept."
// src/ops/jobs.ts:43-44 (jsdoc): "Documents without the field, or with a value that is neither
// an ISO date string nor a number, are kept."
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobs, openStore, type ScheduleContext, type Store } from '../../src/index.js';

const DAY = 86_400_000;
const context: ScheduleContext = { name: 'retain', slot: new Date(), signal: new AbortController().signal };

describe.each(['memory', 'sqlite'] as const)('jobs.retain keeps what is not an old date (%s)', (driver) => {
  let store: Store;
  let dir: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-retain-'));
    store = await openStore({ url: driver === 'memory' ? 'memory:' : `sqlite:${join(dir, 's.db')}`, sweepInterval: false });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps documents whose field is a string that is not an ISO date (empty, "(unknown)")', async () => {
    const events = store.collection('events');
    await events.insertMany([
      { id: 'empty', createdAt: '' },
      { id: 'placeholder', createdAt: '(unknown)' },
      { id: 'old', createdAt: new Date(Date.now() - 40 * DAY) },
    ]);
    await jobs.retain('events', { olderThan: '30d', field: 'createdAt' })(store, context);
    // Only 'old' is an ISO date older than 30 days.
    expect((await events.keys()).sort()).toEqual(['empty', 'placeholder']);
  });

  it('keeps a document holding a Date far in the future (year 10000, stored as "+010000-...")', async () => {
    const events = store.collection('events');
    await events.insertMany([{ id: 'future', createdAt: new Date(Date.UTC(10_000, 0, 1)) }]);
    await jobs.retain('events', { olderThan: '30d', field: 'createdAt' })(store, context);
    expect(await events.keys()).toEqual(['future']);
  });

  it('keeps a document whose field holds another type: an array (of dates)', async () => {
    const events = store.collection('events');
    await events.insertMany([{ id: 'array', createdAt: [new Date(Date.now() - 40 * DAY)] }]);
    await jobs.retain('events', { olderThan: '30d', field: 'createdAt' })(store, context);
    expect(await events.keys()).toEqual(['array']);
  });
});
