import { describe, expect, it } from 'vitest';
import { DRIVERS, opened } from '../store-fixture.js';

/** Runs `fn` with vitest's process handlers swapped for ones that record what surfaced. */
async function surfaced(fn: () => Promise<void>): Promise<string[]> {
  const got: string[] = [];
  const saved = { u: process.listeners('uncaughtException'), r: process.listeners('unhandledRejection') };
  process.removeAllListeners('uncaughtException');
  process.removeAllListeners('unhandledRejection');
  const onU = (e: Error): void => void got.push(`uncaughtException: ${e.message}`);
  const onR = (e: unknown): void => void got.push(`unhandledRejection: ${(e as Error).message}`);
  process.on('uncaughtException', onU);
  process.on('unhandledRejection', onR);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.removeListener('uncaughtException', onU);
    process.removeListener('unhandledRejection', onR);
    for (const l of saved.u) process.on('uncaughtException', l as never);
    for (const l of saved.r) process.on('unhandledRejection', l as never);
  }
  return got;
}

describe.each(DRIVERS)('%s: collection.watch', (d) => {
  /**
   * README.md:387-389: "A listener that throws never fails the write or keeps other listeners
   * from the change: its error surfaces as an uncaught exception (a rejected async listener as
   * an unhandled rejection)".
   */
  it('a synchronous collection listener that throws surfaces as an uncaught exception (as kv.watch does)', async () => {
    const o = await opened(d);
    try {
      const kvGot = await surfaced(async () => {
        const stop = o.store.kv('w').watch(() => {
          throw new Error('kv boom');
        });
        await o.store.kv('w').set('a', 1);
        stop();
      });
      expect(kvGot).toEqual(['uncaughtException: kv boom']); // holds
      const got = await surfaced(async () => {
        const stop = o.store.collection('w').watch(() => {
          throw new Error('collection boom');
        });
        await o.store.collection('w').insert({ id: 'a' });
        stop();
      });
      expect(got).toEqual(['uncaughtException: collection boom']);
    } finally {
      await o.dispose();
    }
  });

  /**
   * README.md:389-390: "A listener stopped during a dispatch gets nothing more, not even that
   * change if it had not been called yet."
   */
  it('a collection listener stopped during a dispatch, before it was called, does not get that change', async () => {
    const o = await opened(d);
    try {
      const c = o.store.collection('w');
      const gotB: string[] = [];
      let calledA = false;
      let stopB = (): void => {};
      // A is called first (registered first) and stops B, which has not been called yet.
      const stopA = c.watch(() => {
        calledA = true;
        expect(gotB).toEqual([]);
        stopB();
      });
      stopB = c.watch((ch) => void gotB.push(ch.key));
      await c.insert({ id: 'q' });
      await new Promise((r) => setTimeout(r, 20));
      expect(calledA).toBe(true);
      expect(gotB).toEqual([]);
      stopA();
    } finally {
      await o.dispose();
    }
  });
});

/**
 * README.md:376-380: "`kv.watch` and `collection.watch` report changes made through this store
 * ... and by other processes on the same `sqlite:` or `file:` store ('remote') ... Either every
 * change is delivered, or the listener gets `{ type: 'reset' ... }`: continuity was lost ... so
 * re-read what you mirror". A mirror fed by these events must get a key's put before its delete.
 */
describe('file: remote collection events', () => {
  it("another process's put then delete of one key reach collection.watch in that order", async () => {
    const o = await opened('file');
    try {
      const a = o.store.collection('w');
      await a.insert({ id: 'seed' });
      const seen: string[] = [];
      const stop = a.watch((ch) => void seen.push(`${ch.type}:${ch.key}:${ch.origin}`));
      const other = await o.open();
      const b = other.collection('w');
      await b.insert({ id: 'x' });
      await b.delete('x');
      const t0 = Date.now();
      while (seen.length < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 50));
      stop();
      expect(seen).toEqual(['put:x:remote', 'delete:x:remote']);
    } finally {
      await o.dispose();
    }
  });
});

/** A Standard Schema whose verdict comes later: a change with a value then waits for it. */
const slowSchema = {
  '~standard': {
    version: 1 as const,
    vendor: 'test',
    validate: (value: unknown) => new Promise<{ value: unknown }>((resolve) => setTimeout(() => resolve({ value }), 5)),
  },
};

describe('collection.watch with an asynchronous schema', () => {
  it('delivers changes in the order they happened, and none after the listener stopped', async () => {
    const o = await opened('memory');
    try {
      const c = o.store.collection('slow', { schema: slowSchema });
      const seen: string[] = [];
      const stop = c.watch((ch) => void seen.push(`${ch.type}:${ch.key}:${ch.value === undefined ? '-' : 'v'}`));
      await c.insert({ id: 'a' });
      await c.delete('a');
      await c.insert({ id: 'b' });
      await new Promise((r) => setTimeout(r, 40));
      expect(seen).toEqual(['put:a:v', 'delete:a:-', 'put:b:v']);
      await c.insert({ id: 'c' });
      stop(); // before the schema answered for 'c'
      await new Promise((r) => setTimeout(r, 40));
      expect(seen).toHaveLength(3);
    } finally {
      await o.dispose();
    }
  });
});
