// The backup manifest's format field: a newer format is UNSUPPORTED (upgrade Strata), a damaged
// one is CORRUPT. The checksum is checked first, so a flipped digit never reads as "newer".
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError, type Store } from '../../src/index.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-backup-format-'));
  store = await openStore({ url: `sqlite:${join(dir, 's.db')}`, sweepInterval: false });
  await store.kv('a').set('k', 1);
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const codeOf = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof StrataError ? e.code : String(e)),
  );

/** The manifest with `format` replaced, its checksum made right again (what a newer Strata would write). */
function resealed(manifest: Record<string, unknown>, format: string): string {
  const { checksum: _old, ...rest } = { ...manifest, format } as Record<string, unknown>;
  const checksum = `sha256:${createHash('sha256')
    .update(JSON.stringify({ ...rest, checksum: undefined }))
    .digest('hex')}`;
  return JSON.stringify({ ...rest, checksum });
}

describe('backup manifest format', () => {
  it('a newer format with a good checksum is UNSUPPORTED; a damaged format digit is CORRUPT', async () => {
    const b = await store.backup({ to: join(dir, 'bk') });
    const file = join(b.path, 'manifest.json');
    const text = await readFile(file, 'utf8');
    const manifest = JSON.parse(text) as Record<string, unknown>;
    expect(manifest.format).toBe('strata-backup/1');

    await writeFile(file, resealed(manifest, 'strata-backup/2'));
    expect(await codeOf(store.restore(b.id, { dir: join(dir, 'bk') }))).toBe('UNSUPPORTED');
    expect(await codeOf(store.backups.verify(b.id, { dir: join(dir, 'bk') }))).toBe('UNSUPPORTED');

    // Single-bit flips of the version digit: '1' (0x31) -> '0', '3', '5', '9'.
    for (const digit of ['0', '3', '5', '9']) {
      await writeFile(file, text.replace('"strata-backup/1"', `"strata-backup/${digit}"`));
      expect(await codeOf(store.restore(b.id, { dir: join(dir, 'bk') })), digit).toBe('CORRUPT');
    }
    await writeFile(file, text);
    await store.kv('a').set('k', 2);
    await store.restore(b.id, { dir: join(dir, 'bk') });
    expect(await store.kv('a').get('k')).toBe(1);
  });
});
