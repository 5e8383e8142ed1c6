import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { ChangeEvent, StoredRecord, WriteOp } from './drivers/driver.js';
import { collectionSpace, retryOnConflict, type HandleContext } from './context.js';
import { encodeJson, parseJson } from './codec/json.js';
import { checkKey } from './codec/keys.js';
import { parseDuration, type Duration } from './codec/duration.js';
import { StrataError, withOp } from './errors.js';
import { parseFilter, parsePath, parseSort } from './query/parse.js';
import { sortValues } from './query/match.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './query/cursor.js';
import { isPlainObject, keyOf, prepareDoc, validate, validateNow, type DocRules } from './collection-docs.js';

/** Filter documents: equality, `$eq $ne $gt $gte $lt $lte $in $nin $exists $prefix`, `$and $or`, dotted paths. */
export type Filter = Record<string, unknown>;
export type Sort = Record<string, 1 | -1 | 'asc' | 'desc'>;

export interface CollectionOptions<S extends StandardSchemaV1 | undefined = undefined, K extends string = 'id'> {
  /** A Standard Schema (zod, valibot, arktype...) checked on every write and read. */
  schema?: S;
  /** The document field that holds the key; generated (a sortable ULID) when absent. @default 'id' */
  key?: K;
  /** Dotted field paths to index in the backend. */
  indexes?: readonly string[];
  /** Fields encrypted at rest with the store's keyring. */
  encrypt?: readonly string[];
  /** Documents expire this long after their last write. */
  ttl?: Duration;
  /** Fill `createdAt` on first write and `updatedAt` on every write. @default false */
  timestamps?: boolean;
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
  key: string;
  version: number | null;
  value?: T;
  origin: 'local' | 'remote';
}

export interface DedupeOptions {
  /** Field(s) whose equal values make documents duplicates. @default 'id' */
  by?: string | readonly string[];
  /** Which one of each group survives, by last write time. @default 'newest' */
  keep?: 'newest' | 'oldest';
}

/** A document that may leave out its key field (it is generated). */
export type Insertable<In, K extends string> = In extends object ? Omit<In, K> & Partial<Pick<In, K & keyof In>> : In;

const PAGE = 500;
const MAX_PAGE_LIMIT = 10_000;

function checkCount(value: unknown, what: string, op: string): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || (value as number) < 0)) {
    throw new StrataError('BAD_INPUT', `${op}: ${what} must be a non-negative integer`, { op });
  }
}

/** A collection of typed documents with a key field, schema, indexes and versions. */
export class Collection<T extends object = Record<string, unknown>, In = T, K extends string = string> {
  readonly name: string;
  readonly #ctx: HandleContext;
  readonly #space: string;
  readonly #rules: DocRules;
  readonly #indexes: readonly string[];
  readonly #ttl: number | undefined;
  #ready = false;

  /** @internal Use `store.collection(name, options)`. */
  constructor(ctx: HandleContext, name: string, options: CollectionOptions<StandardSchemaV1 | undefined, string>) {
    this.#ctx = ctx;
    this.name = name;
    this.#space = collectionSpace(name);
    const keyField = options.key ?? 'id';
    parsePath(keyField);
    if (keyField.includes('.'))
      throw new StrataError('BAD_INPUT', `collection "${name}": the key field must be a top-level field`);
    this.#rules = { collection: name, schema: options.schema, keyField, timestamps: options.timestamps ?? false };
    if (options.schema !== undefined && typeof options.schema?.['~standard']?.validate !== 'function') {
      throw new StrataError('BAD_INPUT', `collection "${name}": schema must be a Standard Schema such as a zod object`);
    }
    this.#indexes = [...(options.indexes ?? [])];
    for (const path of this.#indexes) parsePath(path);
    if (options.encrypt !== undefined && options.encrypt.length > 0) {
      throw new StrataError('UNSUPPORTED', `collection "${name}": field encryption needs an encryption keyring`, {
        hint: 'remove the `encrypt` option: this version of Strata stores every field as it is',
      });
    }
    this.#ttl = options.ttl === undefined ? undefined : parseDuration(options.ttl, 'ttl');
  }

  /** Checks the store is open and declares the space on first use. Synchronous once ready: hot paths skip an await. */
  #enter(op: string): Promise<void> | undefined {
    this.#ctx.assertOpen(op);
    if (this.#ready) return undefined;
    const ensured = this.#ctx.ensure(this.#space, { indexes: this.#indexes });
    return ensured === undefined
      ? undefined
      : ensured.then(() => {
          this.#ready = true;
        });
  }

  #fail(error: unknown, op: string): StrataError {
    return withOp(error, op, this.#ctx.driver.name);
  }

  #expiresAt(now: number): number | null {
    return this.#ttl === undefined ? null : now + this.#ttl;
  }

  async #decode(record: StoredRecord, op: string): Promise<T> {
    return (await validate(this.#rules, parseJson(record.value), op, 'read')) as T;
  }

  /** Decodes many records; awaits only when the schema is asynchronous. */
  async #decodeAll(records: readonly StoredRecord[], op: string): Promise<T[]> {
    const out: unknown[] = records.map((record) => validateNow(this.#rules, parseJson(record.value), op, 'read'));
    return (out.some((v) => v instanceof Promise) ? await Promise.all(out) : out) as T[];
  }

  async #entry(record: StoredRecord, op: string): Promise<DocEntry<T>> {
    return {
      key: record.key,
      value: await this.#decode(record, op),
      version: record.version,
      createdAt: new Date(record.createdAt),
      updatedAt: new Date(record.updatedAt),
      expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
    };
  }

  #key(id: unknown, op: string): string {
    const key = typeof id === 'number' ? keyOf(this.#rules, id, op) : id;
    checkKey(key, op);
    return key;
  }

  async #read(key: string): Promise<StoredRecord | null> {
    return this.#ctx.driver.get(this.#space, key, this.#ctx.now());
  }

  async #put(key: string, doc: Record<string, unknown>, now: number, expect?: number): Promise<StoredRecord> {
    const op: WriteOp = { type: 'put', space: this.#space, key, value: encodeJson(doc), expiresAt: this.#expiresAt(now) };
    if (expect !== undefined) op.expect = expect;
    const [record] = await this.#ctx.driver.batch([op], now);
    return record!;
  }

  /** The createdAt to keep when a document is replaced (timestamps on). */
  #createdAt(record: StoredRecord | null): unknown {
    if (!this.#rules.timestamps || record === null) return undefined;
    const old = parseJson(record.value) as Record<string, unknown>;
    return old.createdAt;
  }

  /** Inserts a new document; CONFLICT when its key exists. Returns the stored document. */
  async insert(doc: Insertable<In, K>): Promise<T> {
    const op = 'collection.insert';
    try {
      await this.#enter(op);
      const now = this.#ctx.now();
      const prepared = await prepareDoc(this.#rules, doc, op, { now, generateKey: true });
      const record = await this.#put(prepared.key, prepared.doc, now, 0);
      return await this.#decode(record, op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Replaces (or creates) the document under `id`. */
  async set(id: string, doc: Insertable<In, K>): Promise<T> {
    const op = 'collection.set';
    try {
      const key = this.#key(id, op);
      await this.#enter(op);
      return await this.#replace(key, doc, op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Inserts or replaces by the document's key (generated when absent). */
  async upsert(doc: Insertable<In, K>): Promise<T> {
    const op = 'collection.upsert';
    try {
      await this.#enter(op);
      if (!isPlainObject(doc)) throw new StrataError('BAD_INPUT', `${op}: a document must be a plain object`);
      const raw = doc[this.#rules.keyField];
      const key = raw === undefined ? undefined : keyOf(this.#rules, raw, op);
      if (key === undefined) return await this.insert(doc);
      return await this.#replace(key, doc, op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  async #replace(key: string, doc: unknown, op: string): Promise<T> {
    if (!this.#rules.timestamps) {
      const now = this.#ctx.now();
      const prepared = await prepareDoc(this.#rules, doc, op, { now, generateKey: false, key });
      return await this.#decode(await this.#put(key, prepared.doc, now), op);
    }
    // With timestamps the first write's createdAt must survive, so read and compare-and-swap.
    return await retryOnConflict(async () => {
      const existing = await this.#read(key);
      const now = this.#ctx.now();
      const prepared = await prepareDoc(this.#rules, doc, op, {
        now,
        generateKey: false,
        key,
        createdAt: this.#createdAt(existing),
      });
      return await this.#decode(await this.#put(key, prepared.doc, now, existing?.version ?? 0), op);
    });
  }

  /** The document under `id`, or `null`. */
  async get(id: string): Promise<T | null> {
    const op = 'collection.get';
    try {
      const key = this.#key(id, op);
      await this.#enter(op);
      const record = await this.#read(key);
      return record === null ? null : await this.#decode(record, op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  async getEntry(id: string): Promise<DocEntry<T> | null> {
    const op = 'collection.getEntry';
    try {
      const key = this.#key(id, op);
      await this.#enter(op);
      const record = await this.#read(key);
      return record === null ? null : await this.#entry(record, op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  async exists(id: string): Promise<boolean> {
    const op = 'collection.exists';
    try {
      const key = this.#key(id, op);
      await this.#enter(op);
      return (await this.#read(key)) !== null;
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /**
   * Merges `patch` into the stored document (shallow) and validates the result. NOT_FOUND when
   * absent; with `ifVersion`, CONFLICT unless the stored version matches.
   */
  async update(id: string, patch: Partial<In>, options: { ifVersion?: number } = {}): Promise<T> {
    const op = 'collection.update';
    try {
      const key = this.#key(id, op);
      checkCount(options.ifVersion, 'ifVersion', op);
      if (!isPlainObject(patch)) throw new StrataError('BAD_INPUT', `${op}: the patch must be a plain object`);
      await this.#enter(op);
      const attempt = async (): Promise<T> => {
        const existing = await this.#read(key);
        if (existing === null) {
          throw new StrataError('NOT_FOUND', `${op}: no document "${key}" in "${this.name}"`, { hint: 'insert it first' });
        }
        if (options.ifVersion !== undefined && existing.version !== options.ifVersion) {
          throw new StrataError('CONFLICT', `${op}: "${key}" is at version ${existing.version}, not ${options.ifVersion}`, {
            hint: 'read the document again and reapply the change',
            details: { key, expected: options.ifVersion, actual: existing.version },
          });
        }
        const current = await this.#decode(existing, op);
        const now = this.#ctx.now();
        const merged = { ...(current as Record<string, unknown>), ...(patch as Record<string, unknown>) };
        const prepared = await prepareDoc(this.#rules, merged, op, {
          now,
          generateKey: false,
          key,
          createdAt: this.#createdAt(existing),
        });
        return await this.#decode(await this.#put(key, prepared.doc, now, existing.version), op);
      };
      return options.ifVersion === undefined ? await retryOnConflict(attempt) : await attempt();
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Deletes the document; `true` when it existed. */
  async delete(id: string, options: { ifVersion?: number } = {}): Promise<boolean> {
    const op = 'collection.delete';
    try {
      const key = this.#key(id, op);
      checkCount(options.ifVersion, 'ifVersion', op);
      await this.#enter(op);
      const write: WriteOp = { type: 'delete', space: this.#space, key };
      if (options.ifVersion !== undefined) write.expect = options.ifVersion;
      const [removed] = await this.#ctx.driver.batch([write], this.#ctx.now());
      return removed !== null;
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Documents matching `filter`, sorted (key order by default), with limit and offset. */
  async query(filter: Filter = {}, options: QueryOptions = {}): Promise<T[]> {
    const op = 'collection.query';
    try {
      const parsed = parseFilter(filter);
      const sort = parseSort(options.sort);
      checkCount(options.limit, 'limit', op);
      checkCount(options.offset, 'offset', op);
      await this.#enter(op);
      const records = await this.#ctx.driver.scan(
        this.#space,
        { filter: parsed, sort, limit: options.limit, offset: options.offset, valuesOnly: true },
        this.#ctx.now(),
      );
      return await this.#decodeAll(records, op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** One page of matching documents and an opaque cursor for the next. */
  async page(filter: Filter = {}, options: PageOptions = {}): Promise<Page<T>> {
    const op = 'collection.page';
    try {
      const parsed = parseFilter(filter);
      const sort = parseSort(options.sort);
      const limit = options.limit ?? 50;
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
        throw new StrataError('BAD_INPUT', `${op}: limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
      }
      const fingerprint = queryFingerprint(parsed, sort);
      const after = options.cursor == null ? undefined : decodeCursor(options.cursor, fingerprint);
      await this.#enter(op);
      const records = await this.#ctx.driver.scan(
        this.#space,
        { filter: parsed, sort, after, limit: limit + 1, valuesOnly: true },
        this.#ctx.now(),
      );
      const pageRecords = records.slice(0, limit);
      const items = await this.#decodeAll(pageRecords, op);
      const last = pageRecords[pageRecords.length - 1];
      const next =
        records.length > limit && last !== undefined
          ? encodeCursor({ key: last.key, values: sortValues(parseJson(last.value), sort) }, fingerprint)
          : null;
      return { items, next };
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Document keys in key order (code point order), with an optional prefix, limit and resume key. */
  async keys(options: { prefix?: string; limit?: number; after?: string } = {}): Promise<string[]> {
    const op = 'collection.keys';
    try {
      if (options.prefix !== undefined && typeof options.prefix !== 'string') {
        throw new StrataError('BAD_INPUT', `${op}: prefix must be a string`);
      }
      checkCount(options.limit, 'limit', op);
      if (options.after !== undefined) checkKey(options.after, op);
      await this.#enter(op);
      const records = await this.#ctx.driver.scan(
        this.#space,
        {
          prefix: options.prefix,
          limit: options.limit,
          after: options.after === undefined ? undefined : { key: options.after },
          keysOnly: true,
        },
        this.#ctx.now(),
      );
      return records.map((r) => r.key);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Number of matching documents. */
  async count(filter: Filter = {}): Promise<number> {
    const op = 'collection.count';
    try {
      const parsed = parseFilter(filter);
      await this.#enter(op);
      return await this.#ctx.driver.count(this.#space, { filter: parsed }, this.#ctx.now());
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Deletes every matching document; returns how many. `{}` deletes all. */
  async deleteWhere(filter: Filter): Promise<number> {
    const op = 'collection.deleteWhere';
    try {
      if (filter === undefined) throw new StrataError('BAD_INPUT', `${op}: pass a filter ({} deletes everything)`);
      const parsed = parseFilter(filter);
      await this.#enter(op);
      let removed = 0;
      // Each batch resumes after the last key deleted: a filter no index serves would
      // otherwise re-read every non-matching document once per batch.
      let after: string | undefined;
      for (;;) {
        const records = await this.#ctx.driver.scan(
          this.#space,
          { filter: parsed, after: after === undefined ? undefined : { key: after }, limit: PAGE, keysOnly: true },
          this.#ctx.now(),
        );
        if (records.length > 0) {
          const results = await this.#ctx.driver.batch(
            records.map((r) => ({ type: 'delete', space: this.#space, key: r.key })),
            this.#ctx.now(),
          );
          removed += results.filter((r) => r !== null).length;
        }
        if (records.length < PAGE) return removed;
        after = records[records.length - 1]!.key;
      }
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Inserts every document in one atomic batch: all or none (CONFLICT if any key exists). */
  async insertMany(docs: ReadonlyArray<Insertable<In, K>>): Promise<T[]> {
    return this.#many(docs, 'collection.insertMany', true);
  }

  /** Inserts or replaces every document in one atomic batch. */
  async upsertMany(docs: ReadonlyArray<Insertable<In, K>>): Promise<T[]> {
    return this.#many(docs, 'collection.upsertMany', false);
  }

  async #many(docs: readonly unknown[], op: string, insert: boolean): Promise<T[]> {
    try {
      if (!Array.isArray(docs)) throw new StrataError('BAD_INPUT', `${op}: pass an array of documents`);
      await this.#enter(op);
      const run = async (): Promise<T[]> => {
        const now = this.#ctx.now();
        const keys = docs.map((d) =>
          isPlainObject(d) && d[this.#rules.keyField] !== undefined ? keyOf(this.#rules, d[this.#rules.keyField], op) : undefined,
        );
        const known = keys.filter((k): k is string => k !== undefined);
        const existing = insert || !this.#rules.timestamps ? [] : await this.#ctx.driver.getMany(this.#space, known, now);
        const byKey = new Map(existing.filter((r): r is StoredRecord => r !== null).map((r) => [r.key, r]));
        const ops: WriteOp[] = [];
        for (const doc of docs) {
          const raw = isPlainObject(doc) ? doc[this.#rules.keyField] : undefined;
          const old = raw === undefined ? undefined : byKey.get(keyOf(this.#rules, raw, op));
          const prepared = await prepareDoc(this.#rules, doc, op, {
            now,
            generateKey: true,
            createdAt: this.#createdAt(old ?? null),
          });
          const write: WriteOp = {
            type: 'put',
            space: this.#space,
            key: prepared.key,
            value: encodeJson(prepared.doc),
            expiresAt: this.#expiresAt(now),
          };
          if (insert) write.expect = 0;
          else if (this.#rules.timestamps && !ops.some((o) => o.key === prepared.key)) write.expect = old?.version ?? 0;
          ops.push(write);
        }
        if (ops.length === 0) return [];
        const records = await this.#ctx.driver.batch(ops, now);
        return await this.#decodeAll(records as StoredRecord[], op);
      };
      return insert || !this.#rules.timestamps ? await run() : await retryOnConflict(run);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Removes duplicates: documents with equal `by` values; keeps the newest of each group. */
  async dedupe(options: DedupeOptions = {}): Promise<number> {
    const op = 'collection.dedupe';
    try {
      const by = typeof options.by === 'string' ? [options.by] : [...(options.by ?? ['id'])];
      if (by.length === 0) throw new StrataError('BAD_INPUT', `${op}: "by" needs at least one field`);
      const paths = by.map((p) => parsePath(p));
      const keep = options.keep ?? 'newest';
      if (keep !== 'newest' && keep !== 'oldest') throw new StrataError('BAD_INPUT', `${op}: keep must be 'newest' or 'oldest'`);
      await this.#enter(op);
      const keepers = new Map<string, { key: string; at: number }>();
      const losers: string[] = [];
      const better = (a: { key: string; at: number }, b: { key: string; at: number }): boolean =>
        keep === 'newest' ? a.at > b.at || (a.at === b.at && a.key > b.key) : a.at < b.at || (a.at === b.at && a.key < b.key);
      let after: string | undefined;
      for (;;) {
        const records = await this.#ctx.driver.scan(
          this.#space,
          { after: after === undefined ? undefined : { key: after }, limit: PAGE },
          this.#ctx.now(),
        );
        for (const record of records) {
          const values = sortValues(
            parseJson(record.value),
            paths.map((path) => ({ path, dir: 1 as const })),
          );
          if (values.some((v) => v === null)) continue;
          const group = JSON.stringify(values);
          const candidate = { key: record.key, at: record.updatedAt };
          const current = keepers.get(group);
          if (current === undefined) keepers.set(group, candidate);
          else if (better(candidate, current)) {
            losers.push(current.key);
            keepers.set(group, candidate);
          } else losers.push(candidate.key);
        }
        if (records.length < PAGE) break;
        after = records[records.length - 1]!.key;
      }
      let removed = 0;
      for (let i = 0; i < losers.length; i += PAGE) {
        const results = await this.#ctx.driver.batch(
          losers.slice(i, i + PAGE).map((key) => ({ type: 'delete', space: this.#space, key })),
          this.#ctx.now(),
        );
        removed += results.filter((r) => r !== null).length;
      }
      return removed;
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Calls `listener` on every change, from this process or others. */
  watch(listener: (change: DocChange<T>) => void): () => void {
    this.#ctx.assertOpen('collection.watch');
    if (this.#ctx.inTransaction) throw new StrataError('UNSUPPORTED', 'collection.watch is not available inside a transaction');
    if (typeof listener !== 'function') throw new StrataError('BAD_INPUT', 'collection.watch: listener must be a function');
    return this.#ctx.driver.watch((event: ChangeEvent) => {
      if (event.space !== this.#space) return;
      const change: DocChange<T> = { type: event.type, key: event.key, version: event.version, origin: event.origin };
      if (event.value === undefined) return listener(change);
      void validate(this.#rules, parseJson(event.value), 'collection.watch', 'read').then(
        (value) => listener({ ...change, value: value as T }),
        () => listener(change),
      );
    });
  }
}
