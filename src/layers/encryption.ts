import type {
  BatchOptions,
  BatchResult,
  ChangeEvent,
  Driver,
  DriverCapabilities,
  DriverStats,
  ScanQuery,
  SpaceSpec,
  StoredRecord,
  VerifyOptions,
  VerifyReport,
  WriteOp,
} from '../drivers/driver.js';
import { asRead } from '../drivers/record-stamp.js';
import { StrataError } from '../errors.js';
import { RecordCodec } from '../crypto/record-codec.js';
import { rewriteIndexes, rewriteQuery, type LookupChecks } from '../crypto/filters.js';
import { ENCRYPTED_SPACE, parseSpecText, sameEncryption, specText, type SpaceEncryption } from '../crypto/spec.js';
import { checkUnsignedStore, CRYPTO_SPACE } from '../crypto/state.js';
import type { Sealer } from '../crypto/aead.js';
import { readPastDamage } from '../crypto/pages.js';

/**
 * Driver -> Driver: encrypts the spaces declared encrypted (whole values or fields) and, with
 * integrity 'mac', signs every record, so nothing below this layer (the driver, its files, a
 * backup) sees plaintext of an encrypted space or can change a record unnoticed.
 * `meta.crypto` (the store id and key checks) passes through untouched: it is read before
 * the keyring can be used.
 */
export class EncryptionLayer implements Driver {
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  readonly inner: Driver;
  readonly codec: RecordCodec;
  readonly #specs = new Map<string, SpaceEncryption>();
  /**
   * The version (and stamp) of each space's `meta.encrypted` record as this process last saw it stored.
   * Every batch that writes an encrypted space checks it, in the same atomic step: a restore
   * (here or in another process) may have taken the record away, and ciphertext written into a
   * space the store no longer lists as encrypted reads as its ciphertext text everywhere else.
   */
  readonly #remembered = new Map<string, ReturnType<typeof asRead>>();
  readonly #keyIds: string[];
  #loaded = false;
  readonly getSync?: (space: string, key: string, now: number) => StoredRecord | null;
  readonly getValueSync?: (space: string, key: string, now: number) => string | null;
  /** Images pass through untouched: ciphertext and MACs stay exactly as stored (see ops/image.ts). */
  readonly openImage?: Driver['openImage'];
  readonly loadImage?: Driver['loadImage'];

  constructor(inner: Driver, sealer: Sealer | null, keyIds: readonly string[], mac: boolean) {
    this.inner = inner;
    this.name = inner.name;
    this.codec = new RecordCodec(sealer, mac);
    this.#keyIds = [...keyIds];
    // A value-only read cannot be checked against a MAC, which covers the expiry too.
    const valueReads = inner.capabilities.valueReads === true && !mac;
    this.capabilities = { ...inner.capabilities, valueReads, encryption: true };
    if (inner.openImage) this.openImage = inner.openImage.bind(inner);
    if (inner.loadImage) this.loadImage = inner.loadImage.bind(inner);
    if (inner.capabilities.syncReads === true && inner.getSync !== undefined) {
      const getSync = inner.getSync.bind(inner);
      this.getSync = (space, key, now) => this.#decode(space, getSync(space, key, now));
    }
    if (valueReads && inner.getValueSync !== undefined) {
      const getValueSync = inner.getValueSync.bind(inner);
      this.getValueSync = (space, key, now) => {
        const text = getValueSync(space, key, now);
        return text === null ? null : this.codec.decode(space, key, text, null, this.#specs.get(space));
      };
    }
  }

  get sealer(): Sealer | null {
    return this.codec.sealer;
  }

  /** How `space` is encrypted, if it is. */
  specOf(space: string): SpaceEncryption | undefined {
    return this.#specs.get(space);
  }

  /** Every space known to be encrypted (declared here or remembered in the store). */
  encryptedSpaces(): ReadonlyMap<string, SpaceEncryption> {
    return this.#specs;
  }

  /** Reads the remembered specs; a damaged one is CORRUPT when its space is used. */
  async load(now: number): Promise<void> {
    if (!this.#loaded) {
      // The first load is the open. With a keyring, openCrypto compared the encryption record
      // with the data; without one, this layer checks no MAC, so a record edited to say
      // 'checksum' would hand out MAC wrappers as values: refused here.
      if (this.codec.sealer === null) await checkUnsignedStore(this.inner, now);
      this.#loaded = true;
    }
    for (const record of await this.scan(ENCRYPTED_SPACE, {}, now)) {
      this.#specs.set(record.key, parseSpecText(record.key, record.value));
      this.#remembered.set(record.key, asRead(record));
    }
  }

  /**
   * Declares `space` encrypted as `spec` before any read of it. One remembered (or declared
   * earlier) with other encryption is BAD_INPUT: reading it one way and writing it another
   * would leave values nobody can read.
   */
  register(space: string, spec: SpaceEncryption): void {
    const known = this.#specs.get(space);
    if (known !== undefined && !sameEncryption(known, spec)) throw differentEncryption(space);
    this.#specs.set(space, spec);
  }

  /** Writes the registered spec of `space` into the store (once), so other processes decrypt it too. */
  async remember(space: string, now: number): Promise<void> {
    const spec = this.#specs.get(space);
    if (spec === undefined) return;
    const record = await this.get(ENCRYPTED_SPACE, space, now);
    if (record !== null) {
      if (!sameEncryption(parseSpecText(space, record.value), spec)) throw differentEncryption(space);
      this.#remembered.set(space, asRead(record));
      return;
    }
    await this.ensureSpace(ENCRYPTED_SPACE, {});
    try {
      const [written] = await this.batch(
        [{ type: 'put', space: ENCRYPTED_SPACE, key: space, value: specText(spec), expiresAt: null, expect: 0 }],
        now,
      );
      this.#remembered.set(space, written ? asRead(written) : { expect: 1 });
    } catch (error) {
      if (!StrataError.is(error, 'CONFLICT')) throw error;
      // Another process remembered it first: it must agree.
      const raced = await this.get(ENCRYPTED_SPACE, space, now);
      if (raced !== null && !sameEncryption(parseSpecText(space, raced.value), spec)) throw differentEncryption(space);
      if (raced !== null) this.#remembered.set(space, asRead(raced));
    }
  }

  #passes(space: string): boolean {
    return space === CRYPTO_SPACE || (!this.codec.mac && !this.#specs.has(space));
  }

  #decode(space: string, record: StoredRecord | null): StoredRecord | null {
    if (record === null || this.#passes(space)) return record;
    return { ...record, value: this.codec.decode(space, record.key, record.value, record.expiresAt, this.#specs.get(space)) };
  }

  #query<Q extends Pick<ScanQuery, 'filter' | 'sort'>>(space: string, query: Q, checks?: LookupChecks): Q {
    const spec = this.#specs.get(space);
    return spec === undefined || spec.whole ? query : rewriteQuery(query, space, spec, this.codec.sealer, this.#keyIds, checks);
  }

  ensureSpace(space: string, spec: SpaceSpec): Promise<void> {
    const enc = this.#specs.get(space);
    if (enc === undefined || enc.whole || spec.indexes === undefined) return this.inner.ensureSpace(space, spec);
    try {
      return this.inner.ensureSpace(space, { ...spec, indexes: rewriteIndexes(spec.indexes, space, enc)! });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  spaces(): Promise<string[]> {
    return this.inner.spaces();
  }

  async get(space: string, key: string, now: number): Promise<StoredRecord | null> {
    return this.#decode(space, await this.inner.get(space, key, now));
  }

  async getMany(space: string, keys: readonly string[], now: number): Promise<Array<StoredRecord | null>> {
    const records = await this.inner.getMany(space, keys, now);
    return this.#passes(space) ? records : records.map((r) => this.#decode(space, r));
  }

  async scan(space: string, query: ScanQuery, now: number): Promise<StoredRecord[]> {
    if (this.#passes(space)) return this.inner.scan(space, query, now);
    const spec = this.#specs.get(space);
    const checks: LookupChecks | undefined =
      query.filter !== undefined && spec !== undefined && spec.fields.some((f) => f.lookup) ? new Map() : undefined;
    // MACs cover the expiry, which a values-only scan may leave out.
    let sent = this.#query(space, this.codec.mac && query.valuesOnly ? { ...query, valuesOnly: false } : query, checks);
    if (checks === undefined || checks.size === 0) {
      const records = await this.inner.scan(space, sent, now);
      if (query.keysOnly === true) return records;
      return records.map((r) => this.#decode(space, r)!);
    }
    // A lookup: each match is opened to check its tokens, keys-only ones too (deleteWhere's),
    // so a token copied into another document neither returns nor deletes it.
    if (sent.keysOnly === true) sent = { ...sent, keysOnly: false };
    const records = await this.inner.scan(space, sent, now);
    return records.map((r) => {
      const value = this.codec.decode(space, r.key, r.value, r.expiresAt, spec, checks);
      return { ...r, value: query.keysOnly === true ? '' : value };
    });
  }

  count(space: string, query: Pick<ScanQuery, 'prefix' | 'filter'>, now: number): Promise<number> {
    try {
      return this.inner.count(space, this.#query(space, query), now);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async batch(ops: readonly WriteOp[], now: number, options?: BatchOptions): Promise<BatchResult[]> {
    const guards = this.#guards(ops);
    if (guards.length === 0) return this.#batch(ops, now, options);
    try {
      return await this.#guarded(guards, ops, now, options);
    } catch (error) {
      if (!isGuard(error, guards)) throw error;
      // The store no longer holds the record as this process saw it (a restore): write it
      // again (refused if the store now declares the space otherwise), then retry once.
      for (const guard of guards) {
        this.#remembered.delete(guard.key);
        await this.remember(guard.key, now);
      }
      return await this.#guarded(this.#guards(ops), ops, now, options);
    }
  }

  /** A check of the `meta.encrypted` record of every encrypted space `ops` put values into. */
  #guards(ops: readonly WriteOp[]): Array<Extract<WriteOp, { type: 'check' }>> {
    let spaces: Set<string> | undefined;
    for (const op of ops) {
      if (op.type === 'put' && op.space !== ENCRYPTED_SPACE && this.#specs.has(op.space)) (spaces ??= new Set()).add(op.space);
    }
    if (spaces === undefined) return [];
    const guards: Array<Extract<WriteOp, { type: 'check' }>> = [];
    for (const space of spaces) {
      const seen = this.#remembered.get(space);
      if (seen !== undefined) guards.push({ type: 'check', space: ENCRYPTED_SPACE, key: space, ...seen });
    }
    return guards;
  }

  /** `ops` after `guards` (first: a journal op must stay last), with results and error indexes as for `ops` alone. */
  async #guarded(
    guards: ReadonlyArray<Extract<WriteOp, { type: 'check' }>>,
    ops: readonly WriteOp[],
    now: number,
    options?: BatchOptions,
  ): Promise<BatchResult[]> {
    let results: BatchResult[];
    try {
      results = await this.#batch([...guards, ...ops], now, options);
    } catch (error) {
      const details = StrataError.is(error) ? error.details : undefined;
      if (details !== undefined && typeof details.index === 'number' && details.index >= guards.length) {
        details.index -= guards.length;
      }
      throw error;
    }
    return results.length === 0 ? results : results.slice(guards.length);
  }

  async #batch(ops: readonly WriteOp[], now: number, options?: BatchOptions): Promise<BatchResult[]> {
    let transformed = false;
    const sent = ops.map((op): WriteOp => {
      if (this.#passes(op.space) || (op.type !== 'put' && op.type !== 'checkScan')) return op;
      transformed = true;
      if (op.type === 'checkScan') return { ...op, query: this.#query(op.space, op.query) };
      return { ...op, value: this.codec.encode(op.space, op.key, op.value, op.expiresAt, this.#specs.get(op.space)) };
    });
    const results = await this.inner.batch(sent, now, options);
    if (!transformed && !ops.some((op) => op.type === 'delete' && !this.#passes(op.space))) return results;
    return results.map((result, i) => {
      const op = ops[i]!;
      if (result === null || this.#passes(op.space)) return result;
      // A put hands back the value it wrote, never its stored form; a delete the removed value.
      if (op.type === 'put') return { ...result, value: op.value };
      return op.type === 'delete' ? this.#removed(op.space, result) : result;
    });
  }

  /**
   * The record a delete removed, decoded. A tampered or damaged one is deleted all the same
   * (an unconditional delete is how it is repaired), so its failure to open does not fail the
   * committed delete: it comes back with an empty value (not JSON), never its stored form.
   */
  #removed(space: string, record: StoredRecord): StoredRecord {
    try {
      return this.#decode(space, record)!;
    } catch (error) {
      if (!StrataError.is(error)) throw error;
      return { ...record, value: '' };
    }
  }

  purgeExpired(now: number, limit?: number): Promise<number> {
    return this.inner.purgeExpired(now, limit);
  }

  watch(listener: (event: ChangeEvent) => void): () => void {
    return this.inner.watch((event) => {
      if (event.value === undefined || this.#passes(event.space)) return listener(event);
      let value: string | undefined;
      try {
        // A signed value cannot be checked without its expiry: another process's change comes
        // without its value (a listener reads the record), this process's own is trusted.
        const spec = this.#specs.get(event.space);
        if (!this.codec.mac) value = this.codec.decode(event.space, event.key, event.value, null, spec);
        else if (event.origin === 'local') value = this.codec.decodeOwn(event.space, event.key, event.value, spec);
      } catch {
        value = undefined;
      }
      const { value: _stored, ...rest } = event;
      listener(value === undefined ? rest : { ...rest, value });
    });
  }

  stats(now?: number): Promise<DriverStats> {
    return this.inner.stats(now);
  }

  /**
   * The live records of the encrypted spaces (as the store lists them now, another process's
   * included) that a verify without the keyring could not open; nothing when that list cannot
   * be read (damage the report lists already).
   */
  async #unopened(): Promise<Pick<VerifyReport, 'notOpened'>> {
    const now = Date.now();
    try {
      const encrypted = new Set((await this.inner.scan(ENCRYPTED_SPACE, {}, now)).map((record) => record.key));
      const notOpened: NonNullable<VerifyReport['notOpened']> = { records: 0, spaces: [] };
      if (encrypted.size === 0) return { notOpened };
      for (const { space, records } of (await this.inner.stats(now)).spaces) {
        if (!encrypted.has(space) || records === 0) continue;
        notOpened.spaces.push({ space, records });
        notOpened.records += records;
      }
      return { notOpened };
    } catch (error) {
      if (StrataError.is(error, 'CORRUPT') || StrataError.is(error, 'INTEGRITY')) return {};
      throw error;
    }
  }

  /**
   * The driver's own check, then every ciphertext and MAC opened. Records the driver found
   * damaged are stepped over (they are reported already), not the rest of the store: a
   * ciphertext moved elsewhere must not wait for the damage to be repaired to be found.
   */
  async verify(options?: VerifyOptions): Promise<VerifyReport> {
    const report = await this.inner.verify(options);
    // Without the keyring ciphertexts cannot be checked: the driver's checksums above were,
    // and the report says how many records that leaves unopened.
    if (this.codec.sealer === null) return { ...report, ...(await this.#unopened()) };
    const now = Date.now();
    // The decryption pass reads every record again; its total is what the storage check counted.
    const total = report.checked;
    const reported = new Set(report.issues.map((i) => `${i.code}\u0000${i.space}\u0000${i.key}`));
    const corrupt = (space: string, key: string | undefined, error: StrataError): void => {
      if (reported.has(`CORRUPT\u0000${space}\u0000${key}`)) return;
      reported.add(`CORRUPT\u0000${space}\u0000${key}`);
      report.issues.push({ code: 'CORRUPT', message: error.message, space, ...(key === undefined ? {} : { key }) });
    };
    let decoded = 0;
    let spaces: string[];
    try {
      spaces = await this.inner.spaces();
    } catch (error) {
      // The list of spaces is damaged: nothing more can be read.
      if (!StrataError.is(error, 'CORRUPT')) throw error;
      if (!report.issues.some((i) => i.code === 'CORRUPT')) report.issues.push({ code: 'CORRUPT', message: error.message });
      report.ok = false;
      return report;
    }
    for (const space of spaces) {
      if (this.#passes(space)) continue;
      const spec = this.#specs.get(space);
      let after: string | undefined;
      for (;;) {
        let page;
        try {
          page = await readPastDamage(
            this.inner,
            space,
            { limit: 500, ...(after === undefined ? {} : { after: { key: after } }) },
            now,
            (key, error) => corrupt(space, key, error),
          );
        } catch (error) {
          // Damage no record is named for (the space's storage): the rest of it cannot be read.
          if (!StrataError.is(error, 'CORRUPT')) throw error;
          if (!report.issues.some((i) => i.code === 'CORRUPT' && i.space === space)) corrupt(space, undefined, error);
          break;
        }
        decoded += page.read;
        options?.onProgress?.({ phase: 'values', checked: Math.min(decoded, total), total });
        for (const record of page.records) {
          try {
            this.codec.decode(space, record.key, record.value, record.expiresAt, spec);
          } catch (error) {
            if (!StrataError.is(error)) throw error;
            report.issues.push({ code: 'INTEGRITY', message: error.message, space, key: record.key });
          }
        }
        if (page.read < 500 || page.last === undefined) break;
        after = page.last;
      }
    }
    // Spaces without ciphertext were skipped: the pass is complete.
    if (decoded > 0) options?.onProgress?.({ phase: 'values', checked: total, total });
    report.ok = report.issues.length === 0;
    return report;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function differentEncryption(space: string): StrataError {
  return new StrataError('BAD_INPUT', `${space} is already declared with other encryption`, {
    hint: 'declare it with the same encrypt option everywhere; to change which fields are encrypted, copy the data to a new collection',
    details: { space },
  });
}

/** Whether `error` is the CONFLICT of one of `guards` (a space's encryption record changed). */
function isGuard(error: unknown, guards: ReadonlyArray<{ key: string }>): boolean {
  if (!StrataError.is(error, 'CONFLICT')) return false;
  const details = error.details;
  return details?.space === ENCRYPTED_SPACE && guards.some((guard) => guard.key === details.key);
}
