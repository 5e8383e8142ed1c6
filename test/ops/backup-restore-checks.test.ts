// `store.restore` runs every check `store.backups.verify` runs before anything changes: a
// backup rewritten with matching checksums (the manifest's is plain sha256, anyone can
// recompute it) whose records do not add up to its manifest is CORRUPT for both, on every
// driver, and the live store keeps its data (docs/backups.md "Format", README "Checked").
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha, signed } from './backup-forge-helpers.js';
import { openStore, StrataError } from '../../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-restore-checks-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof StrataError ? e.code : `not a StrataError: ${String(e)}`),
  );

describe.each(['sqlite', 'file', 'memory'])(
  'a records part whose lines do not add up to its manifest (restored into %s)',
  (kind) => {
    it('is CORRUPT for restore and for a dry run, as for verify, and the live store keeps its data', async () => {
      const source = await openStore({ url: `file:${join(dir, 'source')}`, sweepInterval: false });
      const url = kind === 'sqlite' ? `sqlite:${join(dir, 'app.db')}` : kind === 'file' ? `file:${join(dir, 'app')}` : 'memory:';
      const store = await openStore({ url, sweepInterval: false });
      try {
        await source.kv('a').set('x', 1);
        const backup = await source.backup({ to: join(dir, 'backups') });
        const manifestPath = join(backup.path, 'manifest.json');
        const partPath = join(backup.path, 'records.ndjson.gz');
        const m = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
        const record = JSON.parse(
          gunzipSync(await readFile(partPath))
            .toString()
            .split('\n')[0]!,
        ) as Record<string, unknown>;
        const line = (fields: Record<string, unknown>): string => JSON.stringify({ ...record, ...fields });
        const write = async (raw: string, spaces: Record<string, number>): Promise<void> => {
          const packed = gzipSync(raw);
          await writeFile(partPath, packed);
          const part = {
            name: 'records.ndjson.gz',
            bytes: packed.length,
            sha256: sha(packed),
            rawBytes: Buffer.byteLength(raw),
            rawSha256: sha(raw),
          };
          const records = Object.values(spaces).reduce((a, b) => a + b, 0);
          await writeFile(manifestPath, signed({ ...m, spaces, records, parts: [part] }));
        };
        // Each case has as many lines as the manifest counts, so only what they hold is wrong.
        const cases: Array<[string, string, Record<string, number>]> = [
          ['a key twice (manifest counts both lines)', `${line({})}\n${line({ value: '2' })}\n`, { 'kv.a': 2 }],
          ['a record already expired at the time of the backup', `${line({ key: 'gone', expiresAt: 1 })}\n`, { 'kv.a': 1 }],
          ['a record of a space the manifest does not list', `${line({ space: 'kv.other' })}\n`, { 'kv.a': 1 }],
        ];
        const failures: string[] = [];
        await store.kv('live').set('k', 'v');
        for (const [what, raw, spaces] of cases) {
          await write(raw, spaces);
          const verify = await codeOf(store.backups.verify(backup.path));
          const dryRun = await codeOf(store.restore(backup.path, { dryRun: true }));
          const restore = await codeOf(store.restore(backup.path));
          const kept = await store.kv('live').get('k');
          if (verify !== 'CORRUPT' || dryRun !== 'CORRUPT' || restore !== 'CORRUPT' || kept !== 'v') {
            failures.push(
              `${what}: verify ${verify}, dry run ${dryRun}, restore ${restore}, live record after: ${JSON.stringify(kept)}`,
            );
          }
        }
        expect(failures).toEqual([]);
      } finally {
        await source.close();
        await store.close();
      }
    });
  },
);

describe('a sqlite-file backup whose manifest counts were rewritten (checksum recomputed)', () => {
  it('is CORRUPT for restore, as for verify, and the live store keeps its data', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'app.db')}`, sweepInterval: false });
    try {
      await store.kv('a').setMany([
        ['x', 1],
        ['y', 2],
      ]);
      const backup = await store.backup({ to: join(dir, 'backups') });
      await store.kv('live').set('k', 'v');
      const manifestPath = join(backup.path, 'manifest.json');
      const m = JSON.parse(await readFile(manifestPath, 'utf8')) as { spaces: Record<string, number>; records: number };
      const spaces = { ...m.spaces, 'kv.a': 1000 };
      await writeFile(manifestPath, signed({ ...m, spaces, records: Object.values(spaces).reduce((a, b) => a + b, 0) }));
      expect(await codeOf(store.backups.verify(backup.path))).toBe('CORRUPT');
      const restore = await store.restore(backup.path).then(
        (r) => `resolved, reporting ${r.records} records`,
        (e: StrataError) => e.code,
      );
      expect(restore).toBe('CORRUPT');
      expect(await store.kv('live').get('k')).toBe('v');
    } finally {
      await store.close();
    }
  });
});
