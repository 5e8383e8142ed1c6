import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { StrataError } from '../../src/errors.js';
import { reportError } from '../../src/cli/report.js';
import { requireBuild, strata } from './helpers.js';

// README "CLI": "Errors print as `error <CODE>: message` with a hint" and "Values and
// documents are JSON: an integer beyond 2^53 - 1, which a JSON number cannot hold exactly, is
// `BAD_INPUT` (quote it to store it as text)". From a hostile audit of the README
// (test/audit-readme/REPORT.md, findings 8 and 9); the first two groups failed before the fix:
// integer options (--limit, --offset, --if-version, --keep, --gzip-level, --batch-size,
// --records, --batch, --seed) and an empty --fields printed no hint line, and
// 9007199254740993.0, 9.007199254740993e15 or 90071992547409930e-1 were stored as
// 9007199254740992.

let cwd: string;
beforeAll(() => {
  requireBuild();
  cwd = mkdtempSync(join(tmpdir(), 'strata-refusal-hints-'));
  expect(strata(['set', 'app', 'k', '1'], { cwd }).code).toBe(0);
  expect(strata(['set', '-c', 'docs', 'd1', '{"id":"d1"}'], { cwd }).code).toBe(0);
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('a refused option value prints a hint line', () => {
  it.each([
    [['list', 'app', '--limit', 'x'], '--limit'],
    [['query', 'docs', '--limit', 'x'], '--limit'],
    [['query', 'docs', '--offset', '-1'], '--offset'],
    [['set', 'app', 'k', '2', '--if-version', '1.5'], '--if-version'],
    [['del', 'app', 'k', '--if-version', 'x'], '--if-version'],
    [['backup', 'prune', '--keep', 'x'], '--keep'],
    [['backup', 'create', '--gzip-level', '10'], '--gzip-level'],
    [['backup', 'create', '--gzip-level', '0'], '--gzip-level'],
    [['rotate-keys', '--batch-size', '0'], '--batch-size'],
    [['demo', '--records', 'many'], '--records'],
    [['demo', '--records', '1000001'], '--records'],
    [['demo', '--batch', '1e3'], '--batch'],
    [['demo', '--seed', '-1'], '--seed'],
    [['query', 'docs', '--fields', ''], '--fields'],
    [['query', 'docs', '--fields', ' , '], '--fields'],
    [['query', 'docs', '{}', '--sort', '{"id":2}'], '--sort'],
    [['query', 'docs', '[1]'], 'quote it'],
    [['set', '-c', 'docs', 'd2', '{}', '--string'], '--string'],
  ])('strata %s', (args, named) => {
    const run = strata(args, { cwd });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error BAD_INPUT: /);
    // One hint line, saying what to give (the option itself, with an example).
    const hint = /\nhint: (.+)\n$/.exec(run.stderr)?.[1];
    expect(hint, run.stderr).toBeDefined();
    expect(hint).toContain(named);
  });

  it('an integer option hint gives its range and an example the option takes', () => {
    const gzip = strata(['backup', 'create', '--gzip-level', '10'], { cwd });
    expect(gzip.stderr).toBe(
      'error BAD_INPUT: --gzip-level must be a whole number from 1 to 9, got "10"\n' +
        'hint: give a whole number from 1 to 9 in decimal digits, e.g. --gzip-level 9\n',
    );
    const keep = strata(['backup', 'prune', '--keep', 'x'], { cwd });
    expect(keep.stderr).toContain('hint: give a whole number from 1 to 9007199254740991 in decimal digits, e.g. --keep 7\n');
    // The example is taken: a dry run of prune with it works.
    expect(strata(['backup', 'prune', '--keep', '7', '--dry-run'], { cwd }).code).toBe(0);
  });

  it('a refusal that brings no hint of its own points at the help of the command', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(reportError(new StrataError('BAD_INPUT', 'kv.set: nope'), false, 'see `strata set --help`')).toBe(2);
      expect(reportError(new StrataError('BAD_INPUT', 'with one', { hint: 'its own' }), false, 'see `strata set --help`')).toBe(
        2,
      );
      // Only usage errors: a NOT_FOUND without a hint is not told to read the help.
      expect(reportError(new StrataError('NOT_FOUND', 'gone'), false, 'see `strata set --help`')).toBe(3);
      expect(write.mock.calls.map(([text]) => text)).toEqual([
        'error BAD_INPUT: kv.set: nope\nhint: see `strata set --help`\n',
        'error BAD_INPUT: with one\nhint: its own\n',
        'error NOT_FOUND: gone\n',
      ]);
    } finally {
      write.mockRestore();
    }
  });
});

describe('a number a JSON number cannot hold to its units digit is BAD_INPUT, however it is written', () => {
  it.each([
    ['9007199254740993.0', '9007199254740992'],
    ['9.007199254740993e15', '9007199254740992'],
    ['{"n":90071992547409930e-1}', '9007199254740992'],
    ['[-9.007199254740993E+15]', '-9007199254740992'],
    ['0.09007199254740993e17', '9007199254740992'],
    ['[1,9007199254740991.5]', '9007199254740992'],
    ['1.2345678901234567890e19', '12345678901234567000'],
  ])('strata set app big %s', (text, stored) => {
    const run = strata(['set', 'app', 'big', text], { cwd });
    expect(run.code, `stored; get prints ${strata(['get', 'app', 'big'], { cwd }).stdout}`).toBe(2);
    expect(run.stderr).toMatch(/^error BAD_INPUT: the value has the number \S+, which a JSON number cannot hold exactly/);
    expect(run.stderr).toContain(`it would be stored as ${stored}\n`);
    expect(run.stderr).toMatch(/\nhint: quote it to keep it exactly, as text: /);
    expect(strata(['get', 'app', 'big'], { cwd }).code).toBe(3); // nothing written
  });

  it('in a document, a patch and a filter too', () => {
    for (const args of [
      ['set', '-c', 'docs', 'd2', '{"n":9007199254740993.0}'],
      ['set', '-c', 'docs', 'd1', '{"n":9.007199254740993e15}', '--patch'],
      ['query', 'docs', '{"n":9007199254740993e0}'],
    ]) {
      const run = strata(args, { cwd });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/^error BAD_INPUT: the (document|filter) has the number/);
    }
    expect(JSON.parse(strata(['get', '-c', 'docs', 'd1', '--json'], { cwd }).stdout)).toEqual({ id: 'd1' });
  });

  it('is stored when the double holds what is written: the safe range, magnitudes, fractions', () => {
    const value =
      '{"a":9007199254740991.0,"b":-9.007199254740991e15,"c":1e21,"d":1.5e300,"e":0.1,"f":12345678901234567890e1,"g":"9007199254740993.0"}';
    expect(strata(['set', 'app', 'fine', value], { cwd }).code).toBe(0);
    expect(JSON.parse(strata(['get', 'app', 'fine', '--json'], { cwd }).stdout)).toEqual({
      a: 9007199254740991,
      b: -9007199254740991,
      c: 1e21,
      d: 1.5e300,
      e: 0.1,
      f: 123456789012345680000,
      g: '9007199254740993.0',
    });
  });
});
