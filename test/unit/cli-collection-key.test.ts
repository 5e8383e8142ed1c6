// Issue 7, defect 1: collection commands use the key field the store remembers, in another
// process (the CLI) than the one that declared the collection; `set -c` never invents `id`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { SPECS_SPACE } from '../../src/collection-specs.js';

const BIN = join(resolve(import.meta.dirname, '../..'), 'dist/cli/main.js');
let dir: string;
let url: string;

function strata(...args: string[]): { code: number; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.STRATA_URL;
  const r = spawnSync(process.execPath, [BIN, '--url', url, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { code: r.status!, stdout: r.stdout, stderr: r.stderr };
}
const doc = (key: string): Record<string, unknown> =>
  JSON.parse(strata('get', '-c', 'deployments', key, '--json').stdout) as Record<string, unknown>;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does)`);
  dir = mkdtempSync(join(tmpdir(), 'strata-keyfield-'));
  url = `sqlite:${join(dir, 'demo.db')}`;
  expect(strata('demo').code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CLI on a collection keyed by recordId', () => {
  it('patches with --if-version on the demo data', () => {
    const before = doc('rec-0000003');
    const run = strata('set', '-c', 'deployments', 'rec-0000003', '{"status":"success"}', '--patch', '--if-version', '1');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(doc('rec-0000003')).toEqual({ ...before, status: 'success' });
    // The same version again is a CONFLICT (exit 4), not a key mismatch.
    expect(strata('set', '-c', 'deployments', 'rec-0000003', '{"status":"x"}', '--patch', '--if-version', '1').code).toBe(4);
  });

  it('a full set -c fills the remembered key field, never an invented id', () => {
    expect(strata('set', '-c', 'deployments', 'new-1', '{"status":"queued"}').code).toBe(0);
    expect(doc('new-1')).toEqual({ recordId: 'new-1', status: 'queued' });
    expect(strata('set', '-c', 'deployments', 'new-2', '{"status":"queued"}', '--if-version', '0').code).toBe(0);
    expect(doc('new-2')).toEqual({ recordId: 'new-2', status: 'queued' });
  });

  it('refuses a --key-field that contradicts the remembered one', () => {
    const run = strata('set', '-c', 'deployments', 'new-3', '{}', '--key-field', 'id', '--json');
    expect(run.code).toBe(2);
    expect(strata('get', '-c', 'deployments', 'new-3').code).toBe(3);
  });

  it('query, list -c and get -c see the documents by their key', () => {
    expect(JSON.parse(strata('list', '-c', 'deployments', '--prefix', 'new-', '--json').stdout)).toEqual(['new-1', 'new-2']);
    const found = JSON.parse(strata('query', 'deployments', '{"recordId":"new-1"}', '--json').stdout) as unknown[];
    expect(found).toEqual([{ recordId: 'new-1', status: 'queued' }]);
  });

  it('a collection with documents but no remembered key field needs --key-field once', async () => {
    const store = await openStore(url);
    await store.collection('legacy', { key: 'sku' }).insert({ sku: 'a1' });
    // As if written by a version of Strata that did not remember declarations.
    await store.driver.batch([{ type: 'delete', space: SPECS_SPACE, key: 'legacy' }], Date.now());
    await store.close();
    expect(strata('set', '-c', 'legacy', 'a2', '{"n":1}').code).toBe(2);
    expect(strata('set', '-c', 'legacy', 'a2', '{"n":1}', '--key-field', 'sku').code).toBe(0);
    expect(strata('set', '-c', 'legacy', 'a3', '{"n":2}').code).toBe(0);
    const reopened = await openStore(url);
    expect(await reopened.describe('legacy')).toEqual({ key: 'sku', indexes: [], timestamps: false, ttl: null });
    expect(await reopened.collection('legacy').get('a3')).toEqual({ sku: 'a3', n: 2 });
    await reopened.close();
  });
});
