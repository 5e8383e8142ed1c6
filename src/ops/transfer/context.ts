import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Driver } from '../../drivers/driver.js';
import type { CollectionSpec } from '../../collection-specs.js';
import type { EncryptionLayer } from '../../layers/encryption.js';

/** What export and import need from the store they run on (built by `Store`; no other way in). */
export interface TransferContext {
  /** The store's own stack (quota over encryption over the driver): reads through it are decrypted. */
  readonly driver: Driver;
  /** The driver at the bottom of the stack: what it stores, ciphertext and MACs included. */
  readonly raw: Driver;
  /** The store's encryption layer, when it has a keyring or holds encrypted data. */
  readonly crypto: EncryptionLayer | undefined;
  now(): number;
  /** The schema collection `name` is declared with in this process, if any. */
  schemaOf(name: string): StandardSchemaV1 | undefined;
  /** The declaration of `name` made in this process with options (null when there is none). */
  declaredSpec(name: string): CollectionSpec | null;
  /** After a successful import: learn the collection declarations it brought (those not declared in this process). */
  refresh(names: readonly string[]): Promise<void>;
}

/** The driver at the bottom of a layer stack: layers expose what they wrap as `inner`. */
export function bottomDriver(driver: Driver): Driver {
  let at = driver;
  while ('inner' in at && (at as { inner?: unknown }).inner !== undefined) at = (at as unknown as { inner: Driver }).inner;
  return at;
}

/** Progress of a long export or import, reported every few thousand records and at the end of each phase. */
export interface TransferProgress {
  /** `validate`: import's first pass over the file; `write`: records going into the store (import) or the file (export). */
  phase: 'validate' | 'write';
  /** Records done in this phase so far. */
  records: number;
  /** Records in all, when known (export: at its end; import: from the end of the validation pass). */
  total: number | null;
}
