// What the tests that forge backups by hand share: sha256 as backups write it, a manifest
// re-signed over whatever it now says (its checksum is plain sha256: anyone can), and a hash of
// a store's whole raw content to show it unchanged.
import { createHash } from 'node:crypto';
import type { Store } from '../../src/index.js';
import { rawDump } from '../../src/testing/backup-suite.js';

export const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

export const contentHash = async (store: Store): Promise<string> => sha(await rawDump(store, Date.now()));

/** A manifest written as Strata writes it, with a checksum that matches whatever it says. */
export function signed(manifest: Record<string, unknown>): string {
  const { checksum: _, ...rest } = manifest;
  const body = JSON.stringify({ ...rest, checksum: undefined });
  return `${JSON.stringify({ ...rest, checksum: `sha256:${sha(body)}` }, null, 2)}\n`;
}
