// A watcher in another process that lags while a writer compacts the file store several
// times (so the batches it had not read are folded into snapshots) must hear of every put
// and delete, or get a reset for its space: never miss a change unannounced.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/drivers/driver.js';
import { fileDrivers, fixture, LineChild, sleep, tempDir } from './helpers.js';

const { fileDriver } = fileDrivers;
const temp = await tempDir('file-watch');
afterAll(() => temp.dispose());

/** Blocks this process's event loop, as a busy watcher would. */
const blockFor = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

describe('file driver: a lagging watcher across compactions (real processes)', () => {
  it('hears every put and delete of another process, or a reset for its space', async () => {
    const dir = join(temp.path, 'store');
    const watcher = fileDriver({ dir });
    await watcher.spaces(); // open (creates the store) before the writer starts
    const events: ChangeEvent[] = [];
    const stop = watcher.watch((e) => events.push(e));
    const writer = new LineChild(fixture('file-churn-writer.mjs'), [dir, '400']);
    await writer.waitFor('B', 20_000);
    await sleep(250); // phase 1 is polled and delivered one by one
    const beforeBlock = events.length;
    blockFor(1_500); // meanwhile the writer compacts several times
    await writer.waitFor('D', 60_000);
    expect((await writer.exit(10_000)).code).toBe(0);
    await watcher.spaces(); // catches up
    await sleep(250);
    stop();
    await watcher.close();

    const ops = writer.lines
      .filter((l) => l.startsWith('O '))
      .map((l) => JSON.parse(l.slice(2)) as [string, string, 'put' | 'delete', number | null]);
    const compactions = Number(writer.lines.find((l) => l.startsWith('C '))!.slice(2));
    expect(compactions).toBeGreaterThanOrEqual(2);
    const seen = new Set(events.map((e) => JSON.stringify([e.space, e.key, e.type, e.version])));
    const reset = new Set(events.filter((e) => e.type === 'reset').map((e) => e.space));
    const missed = ops.filter((op) => !seen.has(JSON.stringify(op)) && !reset.has(op[0]));
    expect(missed).toEqual([]);
    // The overrun really happened, and what could be delivered exactly was.
    expect(reset.has('kv.a')).toBe(true);
    for (const e of events.filter((e) => e.type === 'reset'))
      expect(e).toEqual({ space: e.space, key: '', type: 'reset', version: null, origin: 'remote' });
    const phase1 = ops.slice(0, 8).map((op) => JSON.stringify(op));
    expect(phase1.every((op) => seen.has(op))).toBe(true);
    expect(beforeBlock).toBeGreaterThanOrEqual(8);
    console.log(
      `lagging watcher: ${ops.length} changes by the writer, ${compactions} compactions, ` +
        `${events.length - reset.size} events and resets for ${[...reset].join(', ')}`,
    );
  }, 90_000);
});
