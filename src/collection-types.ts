import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Duration } from './codec/duration.js';
import type { SchemaIssue } from './collection-docs.js';
import type { EncryptFieldInput } from './crypto/spec.js';
import type { Quota } from './layers/quota.js';

/**
 * Filter documents: equality, `$eq $ne $gt $gte $lt $lte $in $nin $exists $prefix`, `$and $or`,
 * dotted paths.
 */
export type Filter = Record<string, unknown>;
export type Sort = Record<string, 1 | -1 | 'asc' | 'desc'>;

export interface CollectionOptions<S extends StandardSchemaV1 | undefined = undefined, K extends string = 'id'> {
  /** A Standard Schema (zod, valibot, arktype...) checked on every write and read. */
  schema?: S;
  /** The document field that holds the key; generated (a sortable ULID) when absent. @default 'id' */
  key?: K;
  /** Dotted field paths to index in the backend. */
  indexes?: readonly string[];
  /**
   * Fields encrypted at rest with the store's keyring (AES-256-GCM), by dotted path. They
   * cannot be filtered, sorted or indexed, except `{ path, lookup: true }` fields, which answer
   * equality (`{ email: x }`, `$in`) through a keyed HMAC token stored beside the ciphertext.
   */
  encrypt?: readonly EncryptFieldInput[];
  /** Documents expire this long after their last write. */
  ttl?: Duration;
  /** Fill `createdAt` on first write and `updatedAt` on every write. @default false */
  timestamps?: boolean;
  /**
   * Limits the collection to `records` live documents and/or `bytes` of keys and values:
   * a write that would go past it is QUOTA_EXCEEDED and changes nothing. Enforced by every
   * process that declares it (not remembered in the store).
   */
  quota?: Quota;
}

export interface QueryOptions {
  sort?: Sort;
  limit?: number;
  offset?: number;
}

export interface PageOptions {
  sort?: Sort;
  /** @default 50 */
  limit?: number;
  /** `next` from the previous page. */
  cursor?: string | null;
}

export interface IterateOptions {
  /** @default key order */
  sort?: Sort;
  /** Documents read per page underneath (1 to 10,000). @default 500 */
  pageSize?: number;
}

export interface KeysOptions {
  prefix?: string;
  limit?: number;
  /** Resume after this key (the last key of the previous page). */
  after?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; `null` on the last page. */
  next: string | null;
}

export interface DocEntry<T> {
  key: string;
  value: T;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date | null;
}

export interface DocChange<T> {
  /** `reset`: changes were lost to this listener (see ChangeEvent); re-read the data. `key` is `''`. */
  type: 'put' | 'delete' | 'reset';
  /**
   * The store's id of the namespace or collection changed: `kv.<name>` or `c.<name>` (as in
   * quota and verify reports), so one listener on several of them knows which to re-read.
   */
  space: string;
  key: string;
  version: number | null;
  value?: T;
  origin: 'local' | 'remote';
}

/**
 * Which document of a duplicate group survives: by last write time (`'newest'`, `'oldest'`),
 * or by a field of the documents (`{ newest: 'createdAt' }`: the greatest value wins).
 */
export type DedupeKeep = 'newest' | 'oldest' | { newest: string } | { oldest: string };

export interface DedupeOptions {
  /** Field(s) whose equal values make documents duplicates. @default 'id' */
  by?: string | readonly string[];
  /**
   * Which one of each group survives. With a field, documents whose field is missing, null,
   * an object or an array lose to any document that has a value; values of different types
   * order as sorts do (booleans and numbers before strings); ties fall back to the last
   * write time, then the key. @default 'newest'
   */
  keep?: DedupeKeep;
}

/** What `collection.verify()` found. */
export interface CollectionVerifyReport {
  /** Documents read. */
  checked: number;
  /**
   * Documents that are not valid JSON objects, whose key field disagrees with their key, or
   * that fail the schema, with what is wrong (in key order).
   */
  invalid: Array<{ key: string; issues: SchemaIssue[] }>;
}

/** A document that may leave out its key field (it is generated). */
export type Insertable<In, K extends string> = In extends object ? Omit<In, K> & Partial<Pick<In, K & keyof In>> : In;
