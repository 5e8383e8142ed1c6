import { RecordCodec } from '../../crypto/record-codec.js';
import { parseSpecText, sameEncryption, specText, type SpaceEncryption } from '../../crypto/spec.js';
import type { Sealer } from '../../crypto/aead.js';
import { parseJson } from '../../codec/json.js';
import { StrataError } from '../../errors.js';
import type { EncryptionLayer } from '../../layers/encryption.js';
import { CRYPTO_SPACE_NAME, ENCRYPTED_SPACE_NAME, type ValuesForm, type TransferRecord } from './format.js';

interface SourceCrypto {
  storeId: string;
  integrity: 'checksum' | 'mac';
  keys: Record<string, string>;
}

function refused(message: string, hint: string, details?: Record<string, unknown>): StrataError {
  return new StrataError('BAD_INPUT', `store.import: ${message}`, { op: 'store.import', hint, details });
}

const NEEDS_KEYRING =
  'open the target store with the keyring the export was written with (the encryption.keys option; the CLI reads STRATA_KEYS or --keys-file), or export again with store.export(path, { decrypt: true }) / strata export --decrypt';

/** Parses the exported `meta.crypto` record (the source store's id, integrity mode and key checks). */
function parseSourceCrypto(key: string, text: string): SourceCrypto {
  let raw: unknown;
  try {
    raw = parseJson(text);
  } catch {
    raw = null;
  }
  const r = (raw ?? {}) as Record<string, unknown>;
  const keys = r.keys as Record<string, unknown> | undefined;
  const ok =
    key === 'state' &&
    typeof r.storeId === 'string' &&
    /^[A-Za-z0-9_-]{16,64}$/.test(r.storeId) &&
    (r.salt === null || typeof r.salt === 'string') &&
    (r.integrity === 'checksum' || r.integrity === 'mac') &&
    keys !== null &&
    typeof keys === 'object' &&
    !Array.isArray(keys) &&
    Object.values(keys).every((v) => typeof v === 'string');
  if (!ok) {
    throw new StrataError('CORRUPT', "store.import: the export's encryption record (meta.crypto) is damaged", {
      op: 'store.import',
      hint: 'export the source store again',
    });
  }
  return { storeId: r.storeId as string, integrity: r.integrity as 'checksum' | 'mac', keys: keys as Record<string, string> };
}

/**
 * Turns each record of an export into what the target stores. Values exported as stored are
 * opened with the source store's id and the target's keyring (ciphertext is bound to the store
 * that made it), then every record is encoded for the target: encrypted where the target (or
 * the export) declares its space encrypted, signed when the target uses MACs. The source's own
 * encryption record is read, never written: the target keeps its own. Any failure throws, so
 * running it over the whole file first proves every ciphertext opens and every value encodes.
 */
export class Transcoder {
  readonly #target: EncryptionLayer | undefined;
  readonly #values: ValuesForm;
  #source: SourceCrypto | null = null;
  #sourceCodec: RecordCodec | null = null;
  /** Encryption of spaces as the export declares it (meta.encrypted), parsed from the file. */
  readonly imported = new Map<string, SpaceEncryption>();

  constructor(target: EncryptionLayer | undefined, values: ValuesForm) {
    this.#target = target;
    this.#values = values;
  }

  #sealer(): Sealer {
    const sealer = this.#target?.sealer ?? null;
    if (sealer === null)
      throw refused('this export holds encrypted or signed values, and this store has no keyring', NEEDS_KEYRING);
    return sealer;
  }

  /** The codec that opens the source's stored values, made (and the keyring checked against the source's key checks) on first need. */
  #codec(): RecordCodec {
    if (this.#sourceCodec !== null) return this.#sourceCodec;
    const source = this.#source!;
    const sealer = this.#sealer().forStore(source.storeId);
    for (const [id, check] of Object.entries(source.keys)) {
      if (!sealer.hasKey(id) || sealer.keyCheck(id, source.integrity) !== check) {
        throw new StrataError(
          'DECRYPT_FAILED',
          `store.import: the export was written with key "${id}", which this store's keyring ${sealer.hasKey(id) ? 'holds under another value' : 'lacks'}`,
          {
            op: 'store.import',
            hint: `add the original key "${id}" to this store's keyring, or export again with { decrypt: true } (CLI: \`strata export --decrypt\`)`,
            details: { keyId: id },
          },
        );
      }
    }
    this.#sourceCodec = new RecordCodec(sealer, source.integrity === 'mac');
    return this.#sourceCodec;
  }

  /** The record's plain JSON text (opened when the export stored it encrypted or signed). */
  plain(record: TransferRecord): string {
    if (record.space === CRYPTO_SPACE_NAME) {
      if (this.#values === 'decrypted')
        throw refused('a decrypted export carries no encryption record', 'export the source store again');
      this.#source = parseSourceCrypto(record.key, record.value);
      if (this.#source.integrity === 'mac') this.#codec();
      return record.value;
    }
    const source = this.#source;
    const spec = this.imported.get(record.space);
    let text = record.value;
    if (source !== null && (source.integrity === 'mac' || spec !== undefined)) {
      text = this.#codec().decode(record.space, record.key, record.value, record.expiresAt, spec);
    }
    if (record.space === ENCRYPTED_SPACE_NAME) this.#learn(record.key, text);
    return text;
  }

  #learn(space: string, text: string): void {
    if (this.#values === 'decrypted' || this.#source === null) {
      throw new StrataError('CORRUPT', 'store.import: the export declares encrypted spaces without its encryption record', {
        op: 'store.import',
        hint: 'export the source store again',
      });
    }
    this.#sealer();
    const spec = parseSpecText(space, text);
    const known = this.#target?.specOf(space);
    if (known !== undefined && !sameEncryption(known, spec)) {
      throw refused(
        `${space} is encrypted differently in this store than in the export`,
        'import into a store that does not declare it, or declare the same encrypt option',
        { space },
      );
    }
    this.imported.set(space, spec);
  }

  /** What the target stores for a record whose plain text is `text`; null for records that are not written (meta.crypto). */
  stored(record: TransferRecord, text: string): string | null {
    if (record.space === CRYPTO_SPACE_NAME) return null;
    const target = this.#target;
    if (target === undefined) return text;
    const spec = target.specOf(record.space) ?? this.imported.get(record.space);
    if (spec === undefined && !target.codec.mac) return text;
    return target.codec.encode(record.space, record.key, text, record.expiresAt, spec);
  }

  /**
   * `meta.encrypted` records for spaces this process declares encrypted that the store does
   * not remember yet (`remembered`) and the file does not declare: written in the same load as
   * the ciphertext, so every process that opens the store knows to decrypt it.
   */
  declarations(spaces: Iterable<string>, remembered: ReadonlySet<string>, now: number): TransferRecord[] {
    const target = this.#target;
    if (target === undefined) return [];
    const out: TransferRecord[] = [];
    for (const space of spaces) {
      const spec = target.specOf(space);
      if (spec === undefined || remembered.has(space) || this.imported.has(space)) continue;
      const record: TransferRecord = {
        space: ENCRYPTED_SPACE_NAME,
        key: space,
        value: specText(spec),
        version: 1,
        createdAt: now,
        updatedAt: now,
        expiresAt: null,
      };
      out.push({ ...record, value: this.stored(record, record.value)! });
    }
    return out;
  }
}
