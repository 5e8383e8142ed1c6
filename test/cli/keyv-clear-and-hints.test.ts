import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { KeyvStrata } from '../../src/keyv.js';
import { requireBuild, strata } from './helpers.js';

describe('KeyvStrata clear()', () => {
  // README "Using Strata with Keyv": "`clear()` removes the keys of the current keyv namespace,
  // which in keyv's key format are the keys starting with `<namespace>:`, so clearing namespace
  // `a` also clears namespace `a:b`" (once it promised "only the current keyv namespace").
  it("keyv.clear() of namespace 'a' clears 'a' and, by keyv's key format, 'a:b'; other namespaces stay", async () => {
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      const a = new Keyv({ store: new KeyvStrata(store), namespace: 'a' });
      const ab = new Keyv({ store: new KeyvStrata(store), namespace: 'a:b' });
      const ax = new Keyv({ store: new KeyvStrata(store), namespace: 'ax' });
      await a.set('k', 1);
      await ab.set('k', 2);
      await ax.set('k', 3);
      await a.clear();
      expect(await a.get('k')).toBeUndefined();
      expect(await ab.get('k')).toBeUndefined();
      expect(await ax.get('k')).toBe(3);
    } finally {
      await store.close();
    }
  });
});

describe('CLI hints name what the CLI takes', () => {
  // README.md:940-941 "Every failure you can act on is a `StrataError` with ... a `hint` that
  // says what to do"; README.md:1091-1092 "Errors print as `error <CODE>: message` with a hint".
  // For `strata backup prune` the hint says `pass { keep: 7 } and/or { maxAge: '30d' }`, the
  // API's options; the command takes --keep / --max-age.
  it('`strata backup prune` without --keep or --max-age hints at --keep / --max-age', () => {
    requireBuild();
    const dir = mkdtempSync(join(tmpdir(), 'strata-probe-hint-'));
    try {
      const url = `sqlite:${join(dir, 'a.db')}`;
      expect(strata(['--url', url, 'set', 'app', 'k', '1'], { cwd: dir }).code).toBe(0);
      const r = strata(['--url', url, 'backup', 'prune'], { cwd: dir });
      expect(r.code).toBe(2);
      const hint = /^hint: (.*)$/m.exec(r.stderr)?.[1] ?? '';
      expect(hint, r.stderr).toMatch(/--keep|--max-age/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
