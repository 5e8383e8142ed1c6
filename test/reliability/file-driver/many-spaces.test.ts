// A healthy store with many spaces: the journal header lists every space that has a snapshot,
// so it can be megabytes long, and openJournal (src/drivers/file/image.ts) reads it whole.
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { fileDriver, fileInternals } from '../../../src/drivers/file/index.js';

// (imported directly: a destructured unique symbol loses its type)
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('file driver: a store with many namespaces', () => {
  // README.md: "Crash safety ... every acknowledged write must be there after reopening" and
  // "A damaged file is reported as `CORRUPT` ... never silently emptied"; docs/ARCHITECTURE.md:
  // "A torn last line after a crash is dropped; damage elsewhere is `CORRUPT`." A store nobody
  // damaged must not be CORRUPT: 8,200 namespaces (valid names: 1-128 characters) compacted
  // once make a header line over 1 MiB, and the compaction itself, then every open, fails.
  it('8,200 namespaces with 128-character names survive a compaction and a reopen', async () => {
    const dir = tempDir('many-spaces');
    cleanups.push(dir.dispose);
    const N = 8_200;
    const space = (i: number): string => `kv.${String(i).padStart(6, '0')}${'n'.repeat(122)}`;
    const d = fileDriver({ dir: dir.path, compactBytes: 1 << 30 });
    const ops = Array.from({ length: N }, (_, i) => ({
      type: 'put' as const,
      space: space(i),
      key: 'k',
      value: String(i),
      expiresAt: null,
    }));
    await d.batch(ops, Date.now());
    let compactError: unknown = null;
    await (await d[fileInternals]()).compact().catch((error: unknown) => (compactError = error));
    await d.close().catch(() => {});
    const d2 = fileDriver({ dir: dir.path });
    cleanups.push(() => d2.close());
    let read: unknown;
    try {
      read = (await d2.get(space(N - 1), 'k', Date.now()))?.value;
    } catch (error) {
      read = `${(error as { code?: string }).code}: ${(error as Error).message.slice(0, 160)}`;
    }
    expect({ compactError: compactError && String(compactError).slice(0, 200), read }).toEqual({
      compactError: null,
      read: String(N - 1),
    });
  }, 60_000);
});
