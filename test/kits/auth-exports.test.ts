// `stratadb/kits/auth` is a documented subpath: it resolves for import (from the built
// package, by its own name), exposes the four stores, and require() says the package is ESM-only.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { exports: Record<string, unknown> };

function node(args: string[]): string {
  try {
    return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const e = error as { stderr: string; stdout: string };
    return `${e.stdout}${e.stderr}`;
  }
}

describe('stratadb/kits/auth', () => {
  it('is listed in package.json exports', () => {
    expect(pkg.exports['./kits/auth']).toEqual({
      types: './dist/kits/auth/index.d.ts',
      import: './dist/kits/auth/index.js',
      require: './cjs/esm-only.cjs',
    });
  });

  it('imports by the package name and exposes the four stores', () => {
    const out = node([
      '--input-type=module',
      '-e',
      `const kit = await import('stratadb/kits/auth'); console.log(Object.keys(kit).sort().join(','));`,
    ]);
    expect(out.trim().split('\n').pop()).toBe('OAuthStateStore,OtpStore,SessionStore,TokenStore');
  });

  it('works end to end from the built package on a memory store', () => {
    const script = `
      const { openStore } = await import('stratadb');
      const { SessionStore, OAuthStateStore, OtpStore } = await import('stratadb/kits/auth');
      const store = await openStore('memory:');
      const sessions = new SessionStore(store);
      const { token } = await sessions.create('u1');
      const state = await new OAuthStateStore(store).create({ to: '/' });
      const otp = new OtpStore(store);
      const { code } = await otp.issue('u1');
      console.log(JSON.stringify([
        (await sessions.get(token)).userId,
        (await new OAuthStateStore(store).consume(state)).ok,
        (await otp.verify('u1', code)).ok,
      ]));
      await store.close();`;
    const out = node(['--input-type=module', '-e', script]);
    expect(out.trim().split('\n').pop()).toBe('["u1",true,true]');
  });

  it('require() says the package is ESM-only', () => {
    const out = node(['-e', `try { require('stratadb/kits/auth'); } catch (e) { console.log(e.code + ' ' + e.message); }`]);
    expect(out).toContain('ERR_REQUIRE_ESM');
  });
});
