// A local store URL with a host is refused; when that host carries a password
// (`sqlite://user:password@host/x.db`), the refusal quotes it masked, in the message and in
// the hint alike, as every other quoted store URL is (audit: the hint repeated it twice).
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { StrataError } from '../../src/errors.js';

describe('a store URL with user:password@host', () => {
  for (const url of ['sqlite://user:TOPSECRET123@host/x.db', 'file://admin:hunter2@db.example/app', 'sqlite://:hunter2@h/x.db']) {
    it(`${url.split(':')[0]}: BAD_INPUT, the password masked everywhere`, async () => {
      const error = await openStore(url).then(
        () => null,
        (e: unknown) => e,
      );
      expect(StrataError.is(error, 'BAD_INPUT')).toBe(true);
      const all = JSON.stringify({
        message: (error as StrataError).message,
        hint: (error as StrataError).hint,
        details: (error as StrataError).details,
      });
      expect(all).not.toMatch(/TOPSECRET123|hunter2/);
      expect((error as StrataError).hint).toContain('***@');
    });
  }
});
