// A CommonJS migration module (.cjs, or .js outside a "type": "module" package) edited after
// this process imported it: migrate runs the edited code, and the checksum it records is of
// that code. CommonJS modules are cached by path in require's cache, which a fresh import
// URL does not get past; the migrator drops the entry before importing. Checked in a plain
// node child, where require's cache is node's own.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runChild, tempDir } from '../reliability/helpers.js';

const WORKER = fileURLToPath(new URL('./migrate-cjs-reload-worker.mjs', import.meta.url));
const sha = (t: string): string => createHash('sha256').update(t, 'utf8').digest('hex');
const text = (v: number): string => `exports.up = async (m) => { await m.kv('app').set('v', ${v}); };\n`;

describe('a CommonJS migration module edited after this process imported it', () => {
  let dir: { path: string; dispose(): Promise<void> };
  beforeEach(async () => {
    dir = await tempDir('migrate-cjs-reload');
  });
  afterEach(async () => dir.dispose());

  it('migrate runs the edited code and records its checksum (.cjs, and .js outside a "type": "module" package)', async () => {
    const child = await runChild(WORKER, [dir.path, text(1), text(2), '001_set.cjs', '001_set.js'], 30_000);
    const expected = { applied: ['001_set'], value: 2, recordedChecksum: sha(text(2)) };
    expect(child.lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { name: '001_set.cjs', ...expected },
      { name: '001_set.js', ...expected },
    ]);
  });
});
