// Shared fixtures for the tests of encrypted stores under tampering (imported; not a test itself).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { openStore, StrataError, type OpenStoreOptions, type Store } from '../../src/index.js';

export const KEY1 = Buffer.alloc(32, 0x11).toString('base64');
export const KEY2 = Buffer.alloc(32, 0x22).toString('base64');

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'strata-encrypted-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function openAt(url: string, encryption?: unknown, extra: Partial<OpenStoreOptions> = {}): Promise<Store> {
  return openStore({
    url,
    sweepInterval: false,
    ...(encryption === undefined ? {} : { encryption }),
    ...extra,
  } as OpenStoreOptions);
}

/** The StrataError `promise` rejects with, checked to carry `code`. */
export async function failure(promise: Promise<unknown>, code: string): Promise<StrataError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(StrataError);
    expect((error as StrataError).code, (error as Error).message).toBe(code);
    return error as StrataError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}
