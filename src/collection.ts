import type { StandardSchemaV1 } from '@standard-schema/spec';
import { hideEncrypted } from './crypto/redact.js';
import { asRead } from './drivers/record-stamp.js';
import type { ChangeEvent, StoredRecord, WriteOp } from './drivers/driver.js';
import type { Filter as ParsedFilter, SortSpec } from './query/ast.js';
import { checkWatch, collectionSpace, retryOnConflict, type HandleContext } from './context.js';
import { encodeJson, parseJson } from './codec/json.js';
import { checkKey, checkPrefix } from './codec/keys.js';
import { checkOptions } from './codec/options.js';
import { expiryFrom, parseDuration } from './codec/duration.js';
import { StrataError, withOp } from './errors.js';
import { parseFilter, parsePath, parseSort } from './query/parse.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './query/cursor.js';
import {
  isPlainObject,
  jsonExact,
  keyOf,
  prepareDoc,
  validateNow,
  type DocRules,
  type MaybePromise,
  type Prepared,
} from './collection-docs.js';
import { parseDedupe } from './collection-dedupe.js';
import {
  PAGE,
  dedupeAll,
  deleteMatching,
  pages as bulkPages,
  patchAll,
  positionAfter,
  verifyAll,
  type BulkHost,
} from './collection-bulk.js';
import { checkCount, checkDeclaration, checkPageSize } from './collection-checks.js';
import type {
  CollectionOptions,
  CollectionVerifyReport,
  DedupeOptions,
  DocChange,
  DocEntry,
  Filter,
  Insertable,
  IterateOptions,
  KeysOptions,
  Page,
  PageOptions,
  QueryOptions,
} from './collection-types.js';

/** A collection of typed documents with a key field, schema, indexes and versions. */
export class Collection<T extends object = Record<string, unknown>, In = T, K extends string = string> {
  readonly name: string;
  readonly #ctx: HandleContext;
  readonly #space: string;
  readonly #rules: DocRules;
  readonly #indexes: readonly string[];
  readonly #ttl: number | undefined;
  readonly #host: BulkHost;
  /** The store's `generation()` this handle's space was last ensured in; -1 before. */
  #ready = -1;

  /** @internal Use `store.collection(name, options)`. */
  constructor(ctx: HandleContext, name: string, options: CollectionOptions<StandardSchemaV1 | undefined, string>) {
    checkDeclaration(name, options);
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
    this.#ttl = options.ttl === undefined ? undefined : parseDuration(options.ttl, 'ttl');
    this.#host = {
      ctx,
      space: this.#space,
      rules: this.#rules,
      parse: (record, op) => this.#parse(record, op),
      patched: (record, patch, now, op) => this.#patched(record, patch, now, op),
      putOp: (key, text, now, read) => this.#putOp(key, text, now, read),
      write: (ops, now) => this.#write(ops, now),
    };
  }

  /** Checks the store is open and declares the space on first use. Synchronous once ready: hot paths skip an await. */
  #enter(op: string): Promise<void> | undefined {
    this.#ctx.assertOpen(op);
    const generation = this.#ctx.generation();
    if (this.#ready === generation) return undefined;
    const ensured = this.#ctx.ensure(this.#space, { indexes: this.#indexes });
    return ensured === undefined
      ? undefined
      : ensured.then(() => {
          this.#ready = generation;
        });
  }

  #fail(error: unknown, op: string): StrataError {
    // A value refusal names the path to the bad part: not below an encrypted field.
    return withOp(hideEncrypted(error, this.#ctx.encryptionOf?.(this.#space)), op, this.#ctx.driver.name);
  }

  #expiresAt(now: number): number | null {
    return this.#ttl === undefined ? null : expiryFrom(now, this.#ttl);
  }

  /** The stored JSON of `record`; text that does not parse is damage, reported as CORRUPT with its key. */
  #parse(record: StoredRecord, op: string): unknown {
    try {
      return parseJson(record.value);
    } catch (cause) {
      throw new StrataError('CORRUPT', `${op}: stored document "${record.key}" in "${this.name}" is not valid JSON`, {
        op,
        cause,
        hint: 'delete it with collection.delete(key) or restore the store from a backup',
        details: { collection: this.name, key: record.key },
      });
    }
  }

  /** Parses and validates a stored document; a promise only for asynchronous schemas. */
  #decodeNow(record: StoredRecord, op: string): MaybePromise<T> {
    return validateNow(this.#rules, this.#parse(record, op), op, { read: record.key }) as MaybePromise<T>;
  }

  /** Decodes many records; awaits only when the schema is asynchronous. */
  async #decodeAll(records: readonly StoredRecord[], op: string): Promise<T[]> {
    const out: unknown[] = records.map((record) => this.#decodeNow(record, op));
    return (out.some((v) => v instanceof Promise) ? await Promise.all(out) : out) as T[];
  }

  async #entry(record: StoredRecord, op: string): Promise<DocEntry<T>> {
    return {
      key: record.key,
      value: await this.#decodeNow(record, op),
      version: record.version,
      createdAt: new Date(record.createdAt),
      updatedAt: new Date(record.updatedAt),
      expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
    };
  }

  /**
   * What a write returns, equal to what a read of it gives: the schema's output (a fresh
   * object), or without a schema the document itself (its top level copied, its key filled)
   * when JSON keeps it as it is, else the stored text parsed as a read would (Dates become
   * the strings a read returns).
   */
  #written(prepared: Prepared, text: string): T {
    if (this.#rules.schema !== undefined || jsonExact(prepared.doc)) return prepared.doc as T;
    return parseJson(text) as T;
  }

  #key(id: unknown, op: string): string {
    const key = typeof id === 'number' ? keyOf(this.#rules, id, op) : id;
    checkKey(key, op);
    return key;
  }

  async #read(key: string): Promise<StoredRecord | null> {
    return this.#ctx.driver.get(this.#space, key, this.#ctx.now());
  }

  /** A put of `text`; with `read`, conditional on finding the record as read then (`null`: absent). */
  #putOp(key: string, text: string, now: number, read?: StoredRecord | null): WriteOp {
    const op: WriteOp = { type: 'put', space: this.#space, key, value: text, expiresAt: this.#expiresAt(now) };
    return read === undefined ? op : Object.assign(op, asRead(read));
  }

  /** Writes ops whose per-op results nobody reads (the driver may skip building them). */
  async #write(ops: readonly WriteOp[], now: number): Promise<void> {
    await this.#ctx.driver.batch(ops, now, { results: false });
  }

  /** The createdAt to keep when a document is replaced (timestamps on). */
  #createdAt(record: StoredRecord | null, op: string): unknown {
    if (!this.#rules.timestamps || record === null) return undefined;
    const old = this.#parse(record, op) as Record<string, unknown>;
    return old.createdAt;
  }

  /**
   * A key twice in one insertMany: the second insert conflicts with the first, so nothing is
   * written, but "already exists" would send the caller looking in the store for it.
   */
  #refuseRepeatedKeys(keys: readonly string[], op: string): void {
    const first = new Map<string, number>();
    for (let i = 0; i < keys.length; i++) {
      const at = first.get(keys[i]!);
      if (at === undefined) {
        first.set(keys[i]!, i);
        continue;
      }
      throw new StrataError(
        'CONFLICT',
        `${op}: the key "${keys[i]}" is in the batch twice (documents ${at} and ${i}); nothing was written`,
        {
          op,
          hint: 'insert each key once, or use upsertMany to write the last of each',
          details: { collection: this.name, key: keys[i], indexes: [at, i] },
        },
      );
    }
  }

  /** CONFLICT on a must-not-exist write says what happened: the key is taken (not a race to retry). */
  #duplicate(error: unknown, op: string, keys: readonly string[]): unknown {
    if (!StrataError.is(error, 'CONFLICT') || error.details?.expected !== 0) return error;
    const index = error.details.index;
    const key = typeof index === 'number' && keys[index] !== undefined ? keys[index] : String(error.details.key);
    return new StrataError('CONFLICT', `${op}: a document with key "${key}" already exists in "${this.name}"`, {
      op,
      driver: error.driver,
      cause: error,
      hint: 'use set/upsert to replace it',
      details: { collection: this.name, key },
    });
  }

  /** Inserts a new document; CONFLICT when its key exists. Returns the stored document. */
  async insert(doc: Insertable<In, K>): Promise<T> {
    const op = 'collection.insert';
    try {
      const entered = this.#enter(op);
      if (entered !== undefined) await entered;
      const now = this.#ctx.now();
      let prepared = prepareDoc(this.#rules, doc, op, { now, generateKey: true });
      if (prepared instanceof Promise) prepared = await prepared;
      const text = encodeJson(prepared.doc);
      try {
        await this.#write([this.#putOp(prepared.key, text, now, null)], now);
      } catch (error) {
        throw this.#duplicate(error, op, [prepared.key]);
      }
      return this.#written(prepared, text);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Replaces (or creates) the document under `id`. */
  async set(id: string, doc: Insertable<In, K>): Promise<T> {
    const op = 'collection.set';
    try {
      const key = this.#key(id, op);
      const entered = this.#enter(op);
      if (entered !== undefined) await entered;
      return await this.#replace(key, doc, op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Inserts or replaces by the document's key (generated when absent). */
  async upsert(doc: Insertable<In, K>): Promise<T> {
    const op = 'collection.upsert';
    try {
      const entered = this.#enter(op);
      if (entered !== undefined) await entered;
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
      let prepared = prepareDoc(this.#rules, doc, op, { now, generateKey: false, key });
      if (prepared instanceof Promise) prepared = await prepared;
      const text = encodeJson(prepared.doc);
      await this.#write([this.#putOp(key, text, now)], now);
      return this.#written(prepared, text);
    }
    // With timestamps the first write's createdAt must survive, so read and compare-and-swap.
    return await retryOnConflict(async () => {
      const existing = await this.#read(key);
      const now = this.#ctx.now();
      const prepared = await prepareDoc(this.#rules, doc, op, {
        now,
        generateKey: false,
        key,
        createdAt: this.#createdAt(existing, op),
      });
      const text = encodeJson(prepared.doc);
      await this.#write([this.#putOp(key, text, now, existing)], now);
      return this.#written(prepared, text);
    });
  }

  /** The document under `id`, or `null`. */
  get(id: string): Promise<T | null> {
    const op = 'collection.get';
    // The hottest call: like kv.get, a driver with synchronous point reads (and a synchronous
    // schema, or none) is answered without awaiting anything.
    try {
      const key = this.#key(id, op);
      const entered = this.#enter(op);
      const driver = this.#ctx.driver;
      if (entered === undefined && driver.capabilities.syncReads === true) {
        const record =
          driver.capabilities.valueReads === true
            ? valueRecord(key, driver.getValueSync!(this.#space, key, this.#ctx.now()))
            : driver.getSync!(this.#space, key, this.#ctx.now());
        if (record === null) return Promise.resolve(null);
        const value = this.#decodeNow(record, op);
        return value instanceof Promise
          ? value.catch((error: unknown) => Promise.reject(this.#fail(error, op)))
          : Promise.resolve(value);
      }
      return this.#getAsync(key, entered, op);
    } catch (error) {
      return Promise.reject(this.#fail(error, op));
    }
  }

  async #getAsync(key: string, entered: Promise<void> | undefined, op: string): Promise<T | null> {
    try {
      if (entered !== undefined) await entered;
      const record = await this.#read(key);
      return record === null ? null : await this.#decodeNow(record, op);
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

  /** Refuses a patch that is not a plain object or that touches the key field. */
  #checkPatch(patch: unknown, op: string): asserts patch is Record<string, unknown> {
    if (!isPlainObject(patch)) throw new StrataError('BAD_INPUT', `${op}: the patch must be a plain object`, { op });
    if (Object.prototype.hasOwnProperty.call(patch, this.#rules.keyField)) {
      throw new StrataError('BAD_INPUT', `${op}: a patch cannot change the key field "${this.#rules.keyField}"`, {
        op,
        hint: 'leave the key field out of the patch; to re-key a document, insert a new one and delete the old one',
      });
    }
  }

  /** `record` with `patch` merged in (shallow), validated, and its new stored text. */
  async #patched(
    record: StoredRecord,
    patch: Record<string, unknown>,
    now: number,
    op: string,
  ): Promise<Prepared & { text: string }> {
    const current = (await this.#decodeNow(record, op)) as Record<string, unknown>;
    const prepared = await prepareDoc(this.#rules, { ...current, ...patch }, op, {
      now,
      generateKey: false,
      key: record.key,
      createdAt: this.#createdAt(record, op),
    });
    return { ...prepared, text: encodeJson(prepared.doc) };
  }

  /**
   * Merges `patch` into the stored document (shallow) and validates the result. NOT_FOUND when
   * absent; with `ifVersion`, CONFLICT unless the stored version matches.
   */
  async update(id: string, patch: Partial<In>, options: { ifVersion?: number } = {}): Promise<T> {
    const op = 'collection.update';
    try {
      const key = this.#key(id, op);
      checkOptions(options, ['ifVersion'], op);
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
        const now = this.#ctx.now();
        const next = await this.#patched(existing, patch as Record<string, unknown>, now, op);
        await this.#write([this.#putOp(key, next.text, now, existing)], now);
        return this.#written(next, next.text);
      };
      return options.ifVersion === undefined ? await retryOnConflict(attempt) : await attempt();
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /**
   * Merges `patch` (shallow, as `update`) into every document matching `filter` and returns
   * how many changed. Atomic: every changed document is written in one batch, each guarded by
   * the version it was read at, so either all of them change or none; when a concurrent
   * writer changed one in between, the whole update runs again on fresh data. A patched
   * document that fails the schema rejects with VALIDATION_FAILED and changes nothing.
   * Documents the patch leaves as they were are not rewritten and not counted.
   */
  async updateWhere(filter: Filter, patch: Partial<In>): Promise<number> {
    const op = 'collection.updateWhere';
    try {
      if (filter === undefined) throw new StrataError('BAD_INPUT', `${op}: pass a filter ({} matches every document)`, { op });
      const parsed = parseFilter(filter);
      this.#checkPatch(patch, op);
      encodeJson(patch);
      await this.#enter(op);
      return await patchAll(this.#host, parsed, patch, op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Deletes the document; `true` when it existed. */
  async delete(id: string, options: { ifVersion?: number } = {}): Promise<boolean> {
    const op = 'collection.delete';
    try {
      const key = this.#key(id, op);
      checkOptions(options, ['ifVersion'], op);
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
      checkOptions(options, ['sort', 'limit', 'offset'], op);
      const parsed = parseFilter(filter);
      const sort = parseSort(options.sort);
      checkCount(options.limit, 'limit', op);
      checkCount(options.offset, 'offset', op);
      const entered = this.#enter(op);
      if (entered !== undefined) await entered;
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
      checkOptions(options, ['sort', 'limit', 'cursor'], op);
      const parsed = parseFilter(filter);
      const sort = parseSort(options.sort);
      // Only a left-out limit takes the default: `null` is a wrong type, refused below.
      const limit = options.limit === undefined ? 50 : options.limit;
      checkPageSize(limit, 'limit', op);
      const fingerprint = queryFingerprint(this.#space, parsed, sort);
      const after = options.cursor == null ? undefined : decodeCursor(options.cursor, fingerprint, sort.length);
      const entered = this.#enter(op);
      if (entered !== undefined) await entered;
      const records = await this.#ctx.driver.scan(
        this.#space,
        { filter: parsed, sort, after, limit: limit + 1, valuesOnly: true },
        this.#ctx.now(),
      );
      const pageRecords = records.length > limit ? records.slice(0, limit) : records;
      const items = await this.#decodeAll(pageRecords, op);
      const last = pageRecords[pageRecords.length - 1];
      const next =
        records.length > limit && last !== undefined
          ? encodeCursor(positionAfter(this.#host, last, sort, op), fingerprint)
          : null;
      return { items, next };
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /**
   * Every matching document, in `sort` order (key order by default), read `pageSize` at a
   * time underneath: `for await (const doc of tasks.iterate({ status: 'todo' })) {}`.
   * Pages resume from keyset positions, so documents written meanwhile never make the
   * iteration repeat or skip one that stays put; a document whose sort field changes may be
   * seen at its old and its new place, or at neither.
   */
  iterate(filter: Filter = {}, options: IterateOptions = {}): AsyncGenerator<T, void, undefined> {
    const op = 'collection.iterate';
    try {
      checkOptions(options, ['sort', 'pageSize'], op);
      const parsed = parseFilter(filter);
      const sort = parseSort(options.sort);
      // Only a left-out pageSize takes the default: `null` is a wrong type, refused below.
      const size = options.pageSize === undefined ? PAGE : options.pageSize;
      checkPageSize(size, 'pageSize', op);
      return this.#iterate(parsed, sort, size, op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  async *#iterate(filter: ParsedFilter, sort: SortSpec[], size: number, op: string): AsyncGenerator<T, void, undefined> {
    let pages: AsyncGenerator<StoredRecord[]> | undefined;
    try {
      await this.#enter(op);
      pages = bulkPages(this.#host, filter, sort, size, true, op);
    } catch (error) {
      throw this.#fail(error, op);
    }
    for (;;) {
      let items: T[];
      try {
        this.#ctx.assertOpen(op);
        const next = await pages.next();
        if (next.done === true) return;
        items = await this.#decodeAll(next.value, op);
      } catch (error) {
        throw this.#fail(error, op);
      }
      yield* items;
    }
  }

  /** Document keys in key order (code point order), with an optional prefix, limit and resume key. */
  async keys(options: KeysOptions = {}): Promise<string[]> {
    const op = 'collection.keys';
    try {
      checkOptions(options, ['prefix', 'limit', 'after'], op);
      checkPrefix(options.prefix, op);
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
      return await this.#deleteMatching(parseFilter(filter), op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Deletes every document; returns how many. */
  async clear(): Promise<number> {
    const op = 'collection.clear';
    try {
      return await this.#deleteMatching(parseFilter({}), op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /**
   * Deletes every document and the store's remembered declaration (key field, indexes):
   * gone from names(), stats() and describe(). Returns how many documents were removed.
   */
  async drop(): Promise<number> {
    const op = 'collection.drop';
    try {
      const removed = await this.#deleteMatching(parseFilter({}), op);
      if (!this.#ctx.inTransaction) await this.#ctx.forget(this.#space);
      return removed;
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  async #deleteMatching(parsed: ParsedFilter, op: string): Promise<number> {
    await this.#enter(op);
    return deleteMatching(this.#host, parsed);
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
      const entered = this.#enter(op);
      if (entered !== undefined) await entered;
      const stamped = !insert && this.#rules.timestamps;
      const run = async (): Promise<T[]> => {
        const now = this.#ctx.now();
        const keyField = this.#rules.keyField;
        let byKey: Map<string, StoredRecord> | undefined;
        if (stamped) {
          const known = docs.flatMap((d) =>
            isPlainObject(d) && d[keyField] !== undefined ? [keyOf(this.#rules, d[keyField], op)] : [],
          );
          const existing = await this.#ctx.driver.getMany(this.#space, known, now);
          byKey = new Map(existing.filter((r): r is StoredRecord => r !== null).map((r) => [r.key, r]));
        }
        // One pass, no await per document unless the schema is asynchronous.
        const ops: WriteOp[] = new Array(docs.length);
        const out: T[] = new Array(docs.length);
        const keys: string[] = new Array(docs.length);
        const expected = new Set<string>();
        const expiresAt = this.#expiresAt(now);
        for (let i = 0; i < docs.length; i++) {
          const doc = docs[i];
          let old: StoredRecord | undefined;
          if (byKey !== undefined && isPlainObject(doc) && doc[keyField] !== undefined) {
            old = byKey.get(keyOf(this.#rules, doc[keyField], op));
          }
          let prepared = prepareDoc(this.#rules, doc, op, {
            now,
            generateKey: true,
            createdAt: this.#createdAt(old ?? null, op),
          });
          if (prepared instanceof Promise) prepared = await prepared;
          const text = encodeJson(prepared.doc);
          const write: WriteOp = { type: 'put', space: this.#space, key: prepared.key, value: text, expiresAt };
          if (insert) write.expect = 0;
          else if (stamped && !expected.has(prepared.key)) {
            // Only the first write of a key in the batch is checked: later ones see it.
            Object.assign(write, asRead(old ?? null));
            expected.add(prepared.key);
          }
          ops[i] = write;
          keys[i] = prepared.key;
          out[i] = this.#written(prepared, text);
        }
        if (ops.length === 0) return [];
        if (insert) this.#refuseRepeatedKeys(keys, op);
        try {
          await this.#write(ops, now);
        } catch (error) {
          throw insert ? this.#duplicate(error, op, keys) : error;
        }
        return out;
      };
      return stamped ? await retryOnConflict(run) : await run();
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /**
   * Removes duplicates: documents with equal `by` values (documents missing one of them are
   * left alone); keeps one of each group (see `DedupeOptions.keep`), -> number removed.
   * Each loser is deleted only at the version it was judged at; if one changed meanwhile,
   * the groups are recomputed and the rest of the work runs again.
   */
  async dedupe(options: DedupeOptions = {}): Promise<number> {
    const op = 'collection.dedupe';
    try {
      const plan = parseDedupe(options, op);
      await this.#enter(op);
      return await dedupeAll(this.#host, plan, parseFilter({}), op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /**
   * Reads every document, page by page, and reports the ones a read would refuse: not valid
   * JSON, not an object, a key field that disagrees with the key, or failing the schema.
   * Changes nothing. Fix what it lists with `set(key, doc)` or `delete(key)`.
   */
  async verify(): Promise<CollectionVerifyReport> {
    const op = 'collection.verify';
    try {
      await this.#enter(op);
      return await verifyAll(this.#host, parseFilter({}), op);
    } catch (error) {
      throw this.#fail(error, op);
    }
  }

  /** Calls `listener` on every change, from this process or others. */
  watch(listener: (change: DocChange<T>) => void): () => void {
    checkWatch(this.#ctx, listener, 'collection.watch', 'store.collection(name)');
    let stopped = false;
    // Only an asynchronous schema defers a change; the changes after it wait behind it, in order.
    let waiting: Promise<void> | null = null;
    const later = (change: Promise<DocChange<T>>): void => {
      const turn: Promise<void> = (waiting ?? Promise.resolve())
        .then(() => change)
        .then((ready) => {
          if (waiting === turn) waiting = null;
          if (stopped) return;
          try {
            listener(ready);
          } catch (error) {
            // As for a listener called at once (ChangeHub): an uncaught exception.
            queueMicrotask(() => {
              throw error;
            });
          }
        });
      waiting = turn;
    };
    const unwatch = this.#ctx.driver.watch((event: ChangeEvent) => {
      if (event.space !== this.#space) return;
      const change: DocChange<T> = {
        type: event.type,
        space: event.space,
        key: event.key,
        version: event.version,
        origin: event.origin,
      };
      let value: unknown;
      try {
        value =
          event.value === undefined ? undefined : validateNow(this.#rules, parseJson(event.value), 'collection.watch', 'read');
      } catch {
        value = undefined; // a value that fails its schema: the change comes without it
      }
      const ready =
        value instanceof Promise
          ? value.then(
              (v) => ({ ...change, value: v as T }),
              () => change,
            )
          : null;
      if (ready !== null) return later(ready);
      const now = event.value === undefined || value === undefined ? change : { ...change, value: value as T };
      if (waiting !== null) return later(Promise.resolve(now));
      listener(now);
    });
    return () => {
      stopped = true;
      unwatch();
    };
  }
}

/** A value read as the record the decoders take (they read only key and value). */
function valueRecord(key: string, value: string | null): StoredRecord | null {
  return value === null ? null : { key, value, version: 0, createdAt: 0, updatedAt: 0, expiresAt: null };
}
