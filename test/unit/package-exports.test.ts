// The package is ESM-only: require() of any entry must say so (issue 7, defect 10), and
// every documented subpath must resolve for import.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { exports: Record<string, unknown> };
const subpaths = Object.keys(pkg.exports).filter((p) => p !== './package.json');
const name = (p: string): string => (p === '.' ? 'stratadb' : `stratadb/${p.slice(2)}`);

function node(args: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: 'pipe' }) };
  } catch (error) {
    const e = error as { status: number; stderr: string; stdout: string };
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

describe('package exports', () => {
  it('lists the keyv adapter', () => {
    expect(subpaths).toContain('./keyv');
  });

  it.each(subpaths)('require(%s) says the package is ESM-only', (subpath) => {
    const script = `try { require(${JSON.stringify(name(subpath))}); } catch (e) { console.log(e.code + ' ' + e.message); }`;
    const { out } = node(['-e', script]);
    expect(out).toContain('ERR_REQUIRE_ESM');
    expect(out).toContain('ESM-only');
  });

  // stratadb/testing imports vitest's runner, which only loads inside a vitest run.
  it.each(subpaths.filter((p) => p !== './testing'))('import(%s) loads', (subpath) => {
    const { code, out } = node([
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(name(subpath))}); console.log('ok');`,
    ]);
    expect(out.trim().split('\n').pop()).toBe('ok');
    expect(code).toBe(0);
  });
});
