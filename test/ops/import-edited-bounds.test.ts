import { describe, expect, it } from 'vitest';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DRIVERS, opened, codeOf } from '../store-fixture.js';
import { retrailer } from './transfer-helpers.js';

/** An export of kv.app { a: 1, b: 2 } as NDJSON text, and a way to write an edited copy. */
async function exported(): Promise<{ text: string; write(path: string, text: string): void; dispose(): Promise<void> }> {
  const src = await opened('memory');
  await src.store.kv('app').set('a', 1);
  await src.store.kv('app').set('b', 2);
  const file = join(src.dir, 'x.strata');
  await src.store.export(file);
  return {
    text: gunzipSync(readFileSync(file)).toString('utf8'),
    write: (path, text) => writeFileSync(path, gzipSync(retrailer(text))),
    dispose: () => src.dispose(),
  };
}

describe.each(DRIVERS)('%s: import of a hand-edited file', (d) => {
  /**
   * README.md:666-672: "Import checks the whole file before it writes anything, then writes all
   * or nothing in one atomic step: a damaged or hostile file (...) is refused with CORRUPT,
   * BAD_INPUT or VALIDATION_FAILED naming the line, and the store is unchanged."
   * docs/export-format.md:41-42: "`c` createdAt and `u` updatedAt (epoch ms)"; README.md:121: a time
   * is valid only up to 8.64e15 ms (the `Date` range). The reader bounds `x` but not `c`/`u`.
   */
  it('a record whose createdAt is past the Date range (c: 9e15) is refused, not stored', async () => {
    const e = await exported();
    const o = await opened(d);
    try {
      const path = join(o.dir, 'edited.strata');
      e.write(path, e.text.replace(/("k":"a".*?"c":)\d+/, '$19000000000000000'));
      const imported = await codeOf(o.store.import(path, { mode: 'replace' }));
      // What it leads to when accepted: sqlite reads the record back as CORRUPT and verify()
      // fails; memory and file hand out `createdAt: Invalid Date`.
      const read = await o.store
        .kv('app')
        .getEntry('a')
        .then(
          (entry) => String(entry?.createdAt),
          (err: { code?: string }) => `throws ${err.code}`,
        );
      const verified = (await o.store.verify()).ok;
      expect({ refused: ['CORRUPT', 'BAD_INPUT'].includes(imported), imported, read, verified }).toEqual({
        refused: true,
        imported: expect.any(String),
        read: 'undefined', // refused: the target (empty) stays as it was, no entry
        verified: true,
      });
    } finally {
      await o.dispose();
      await e.dispose();
    }
  });

  /**
   * README.md:121: "Versions start at 1 and grow by one on every write."; README.md:653
   * "Everything travels exactly ... versions". docs/export-format.md:41: "`ver` version
   * (integer >= 1)". An imported version of 2^53-1 is accepted; the next write makes 2^53 (not
   * a safe integer) and the one after stays at 2^53 on memory and sqlite (a version that no
   * longer grows). On `file:` the store cannot be opened again after the first write (CORRUPT:
   * "bad version") and verify() fails, after an acknowledged write.
   */
  it('a record imported at version 2^53-1 and written once leaves a store that verifies and reopens', async () => {
    const e = await exported();
    const o = await opened(d);
    try {
      const path = join(o.dir, 'edited.strata');
      e.write(path, e.text.replace(/("k":"a","v":1,"ver":)\d+/, '$19007199254740991'));
      const imported = await codeOf(o.store.import(path, { mode: 'replace' }));
      if (imported !== 'OK') {
        // Refusing such a file (CORRUPT/BAD_INPUT, store unchanged) would keep the promise too.
        expect(['CORRUPT', 'BAD_INPUT']).toContain(imported);
        return;
      }
      // Two writes: each must succeed with version + 1 (or be refused, changing nothing).
      const first = await codeOf(o.store.kv('app').set('a', 5));
      const v1 = (await o.store.kv('app').getEntry('a'))?.version;
      const second = await codeOf(o.store.kv('app').set('a', 6));
      const v2 = (await o.store.kv('app').getEntry('a'))?.version;
      const verified = (await o.store.verify()).ok;
      const reopened = await codeOf(o.open());
      console.log('observed', JSON.stringify([first, v1, second, v2]));
      const grew = (before: number | undefined, after: number | undefined, code: string): boolean =>
        code === 'OK' ? before !== undefined && after === before + 1 && Number.isSafeInteger(after) : after === before;
      expect({
        firstWrite: grew(9007199254740991, v1, first),
        secondWrite: grew(v1, v2, second),
        verified,
        reopened,
        observed: [first, v1, second, v2],
      }).toEqual({ firstWrite: true, secondWrite: true, verified: true, reopened: 'OK', observed: expect.anything() });
    } finally {
      await o.dispose();
      await e.dispose();
    }
  });
});
