// Property names below an encrypted field are part of its value (SECURITY.md): a schema
// failure names the encrypted field it found a problem at or below, never the path below it
// nor what the schema said about it (which can name a property), in the message, the details
// or anywhere else in the error; on write, on read, and in collection.verify()/store.verify().
// Issues outside encrypted fields keep their path and message.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { z } from 'zod';
import type { StrataError } from '../../src/index.js';
import { failure, KEY1, openAt, tempDir } from './encrypted-store-fixtures.js';

const SECRET_NAME = 'ssn-123-45-6789';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const url = (): string => `sqlite:${join(t.dir, 'db.sqlite')}`;

function expectHidden(error: StrataError): void {
  expect(error.message).not.toContain(SECRET_NAME);
  expect(JSON.stringify(error.details)).not.toContain(SECRET_NAME);
  expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain(SECRET_NAME);
}

describe('schema failures inside an encrypted field', () => {
  it('on write: the issue names the encrypted field only; issues elsewhere keep their path', async () => {
    const store = await openAt(url(), { keys: `k1:${KEY1}` });
    try {
      const schema = z.object({ id: z.string(), name: z.string(), profile: z.record(z.string(), z.number()) });
      const c = store.collection('people', { encrypt: ['profile'], schema });
      const error = await failure(
        c.insert({ id: 'p1', name: 7, profile: { [SECRET_NAME]: 'x', other: 'y' } } as never),
        'VALIDATION_FAILED',
      );
      expectHidden(error);
      const issues = (error.details as { issues: Array<{ path: string; message: string }> }).issues;
      expect(issues.map((i) => i.path)).toEqual(['name', 'profile']);
      expect(issues[0]!.message).toMatch(/string/);
      expect(error.message).toMatch(/profile: does not match the schema \(not detailed: the field is encrypted\)/);
      expect(error.hint).toBe('fix the document or the schema');
      expect(await c.count()).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('a strict object at the encrypted field: the unknown key named by the schema is not repeated', async () => {
    const store = await openAt(url(), { keys: `k1:${KEY1}` });
    try {
      const schema = z.object({ id: z.string(), profile: z.strictObject({ city: z.string() }) });
      const c = store.collection('strict', { encrypt: ['profile'], schema });
      expectHidden(await failure(c.insert({ id: 'p1', profile: { city: 'x', [SECRET_NAME]: 1 } } as never), 'VALIDATION_FAILED'));
    } finally {
      await store.close();
    }
  });

  it('on read, and in collection.verify() and store.verify(): a stored document failing the schema', async () => {
    const first = await openAt(url(), { keys: `k1:${KEY1}` });
    await first.collection('people', { encrypt: ['profile'] }).insert({ id: 'p1', profile: { [SECRET_NAME]: 'x' } } as never);
    await first.close();

    const store = await openAt(url(), { keys: `k1:${KEY1}` });
    try {
      const schema = z.object({ id: z.string(), profile: z.record(z.string(), z.number()) });
      const c = store.collection('people', { encrypt: ['profile'], schema });
      expectHidden(await failure(c.get('p1'), 'VALIDATION_FAILED'));
      expectHidden(await failure(c.query(), 'VALIDATION_FAILED'));
      const verified = await c.verify();
      expect(verified.invalid).toEqual([{ key: 'p1', issues: [{ path: 'profile', message: expect.any(String) }] }]);
      expect(JSON.stringify(verified)).not.toContain(SECRET_NAME);
      const report = await store.verify();
      expect(report.issues.map((i) => `${i.code} ${i.key}`)).toEqual(['VALIDATION_FAILED p1']);
      expect(JSON.stringify(report)).not.toContain(SECRET_NAME);
    } finally {
      await store.close();
    }
  });
});
