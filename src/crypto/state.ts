import { randomBytes } from 'node:crypto';
import type { Driver } from '../drivers/driver.js';
import { parseJson } from '../codec/json.js';
import { StrataError } from '../errors.js';
import { Sealer } from './aead.js';
import { ENCRYPTED_SPACE } from './spec.js';
import { deriveFromPassphrase, type Keyring, type PendingPassphrase } from './keyring.js';

/**
 * What a store keeps about its encryption, in the clear (none of it is secret): a random
 * store id that every ciphertext is bound to, the passphrase salt, whether records carry MACs,
 * and a check value per key id still in use, so a wrong or missing key is refused at open
 * instead of failing one read at a time.
 */
export const CRYPTO_SPACE = 'meta.crypto';
const STATE_KEY = 'state';

export interface CryptoState {
  storeId: string;
  salt: string | null;
  integrity: 'checksum' | 'mac';
  /** Key id -> check value, for every key that may still have made a ciphertext or MAC here. */
  keys: Record<string, string>;
}

interface Loaded {
  state: CryptoState;
  version: number;
}

function damaged(cause?: unknown): StrataError {
  return new StrataError('CORRUPT', "the store's encryption record (meta.crypto) is damaged", {
    cause,
    hint: 'restore the store from a backup; without its store id no ciphertext can be opened',
    details: { space: CRYPTO_SPACE, key: STATE_KEY },
  });
}

export async function readCryptoState(driver: Driver, now: number): Promise<Loaded | null> {
  const record = await driver.get(CRYPTO_SPACE, STATE_KEY, now);
  if (record === null) return null;
  let raw: Partial<CryptoState>;
  try {
    raw = parseJson(record.value) as Partial<CryptoState>;
  } catch (cause) {
    throw damaged(cause);
  }
  const keys = raw.keys;
  const ok =
    typeof raw.storeId === 'string' &&
    /^[A-Za-z0-9_-]{16,64}$/.test(raw.storeId) &&
    (raw.salt === null || typeof raw.salt === 'string') &&
    (raw.integrity === 'checksum' || raw.integrity === 'mac') &&
    keys !== null &&
    typeof keys === 'object' &&
    !Array.isArray(keys) &&
    Object.values(keys).every((v) => typeof v === 'string');
  if (!ok) throw damaged();
  return { state: raw as CryptoState, version: record.version };
}

/** A record as integrity 'mac' stores it: a wrapped value, or a document ending in its MAC member. */
const SIGNED = /^\{"~mac":"[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{43}","~v":|,"~mac":"[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{43}"\}$/;

/**
 * What the data shows about its encryption, from the first record of each space only (a few
 * reads, once per open): 'encrypted' when a space is declared encrypted, 'signed' when a
 * record carries a MAC, null when neither of those looked for is found.
 */
async function traceOf(
  driver: Driver,
  now: number,
  want: { encrypted: boolean; signed: boolean },
): Promise<'encrypted' | 'signed' | null> {
  let spaces: string[];
  try {
    spaces = await driver.spaces();
  } catch (error) {
    // Damage is reported where it is met (names, stats, verify), not by failing the open.
    if (StrataError.is(error, 'CORRUPT')) return null;
    throw error;
  }
  for (const space of spaces) {
    if (space === CRYPTO_SPACE) continue;
    let first;
    try {
      [first] = await driver.scan(space, { limit: 1 }, now);
    } catch (error) {
      // A damaged record is reported when it is read: it says nothing about encryption.
      if (StrataError.is(error, 'CORRUPT')) continue;
      throw error;
    }
    if (first === undefined) continue;
    if (space === ENCRYPTED_SPACE && want.encrypted) return 'encrypted';
    if (want.signed && SIGNED.test(first.value)) return 'signed';
  }
  return null;
}

const RESTORE_HINT = 'restore the store from a backup; someone who can write its files changed its encryption record';

/**
 * For a store without an encryption record: refuses one that shows it had one (spaces
 * declared encrypted, or records carrying MACs). Without this check, deleting that one record
 * would quietly turn MAC checks off (signed values would be handed out with their MAC
 * wrapper) or start a new store id. Looks at the first record of each space only.
 */
export async function checkNoCryptoTraces(driver: Driver, now: number): Promise<void> {
  if ((await traceOf(driver, now, { encrypted: true, signed: true })) === null) return;
  throw new StrataError(
    'CORRUPT',
    "the store's encryption record (meta.crypto) is missing, but its data is encrypted or signed",
    {
      op: 'openStore',
      hint: 'restore the store from a backup; without its encryption record no ciphertext or MAC can be checked',
      details: { space: CRYPTO_SPACE, key: STATE_KEY },
    },
  );
}

/**
 * The refusal for an encryption record its data contradicts, or null. Editing the record
 * needs no key when it lists no key checks (nothing to recompute): one that says 'checksum'
 * while records carry MACs would hand out every MAC wrapper as part of the value and pass
 * forged unsigned records, and one that lists no keys would take any key as the right one.
 * A genuine record always lists the primary key of the last keyring that opened it.
 */
async function contradiction(
  driver: Driver,
  state: CryptoState,
  integrity: 'checksum' | 'mac',
  now: number,
): Promise<StrataError | null> {
  const noKeys = Object.keys(state.keys).length === 0;
  // Given 'mac', every MAC is checked whatever the record says: a 'checksum' is harmless then.
  const unsigned = state.integrity === 'checksum' && integrity !== 'mac';
  if (!noKeys && !unsigned) return null;
  const trace = await traceOf(driver, now, { encrypted: noKeys, signed: true });
  if (trace === null) return null;
  return new StrataError(
    'CORRUPT',
    noKeys
      ? `the store's encryption record (meta.crypto) lists no keys, but its data is ${trace}`
      : "the store's encryption record (meta.crypto) says integrity 'checksum', but its records carry MACs",
    { op: 'openStore', hint: RESTORE_HINT, details: { space: CRYPTO_SPACE, key: STATE_KEY } },
  );
}

/**
 * For a store opened without a keyring, whose encryption record (it has one) says
 * 'checksum': refuses it when its records carry MACs (see `contradiction`). A process that
 * enables MACs at this very moment is told apart by reading the record again.
 */
export async function checkUnsignedStore(driver: Driver, now: number): Promise<void> {
  if ((await traceOf(driver, now, { encrypted: false, signed: true })) === null) return;
  const again = await readCryptoState(driver, now);
  if (again !== null && again.state.integrity === 'mac') {
    throw new StrataError('BAD_INPUT', "this store signs every record (integrity 'mac') and was opened without its keys", {
      op: 'openStore',
      hint: 'open it with openStore({ encryption: { keys } }) (the CLI reads STRATA_KEYS)',
    });
  }
  throw new StrataError(
    'CORRUPT',
    "the store's encryption record (meta.crypto) says integrity 'checksum', but its records carry MACs",
    {
      op: 'openStore',
      hint: RESTORE_HINT,
      details: { space: CRYPTO_SPACE, key: STATE_KEY },
    },
  );
}

/** Writes `next` only over `version` (0: must not exist): two processes opening at once agree. */
async function writeState(driver: Driver, next: CryptoState, version: number, now: number): Promise<boolean> {
  await driver.ensureSpace(CRYPTO_SPACE, {});
  try {
    await driver.batch(
      [{ type: 'put', space: CRYPTO_SPACE, key: STATE_KEY, value: JSON.stringify(next), expiresAt: null, expect: version }],
      now,
      {
        results: false,
      },
    );
    return true;
  } catch (error) {
    if (StrataError.is(error, 'CONFLICT')) return false;
    throw error;
  }
}

/**
 * A passphrase keyring that derives another key than the store's. A wrong passphrase and a
 * changed stored salt derive the same wrong key, so the hint names both; a salt given while
 * the store keeps its own is named as the likelier mistake.
 */
function wrongPassphrase(id: string, given: Buffer | undefined, kept: string | null): StrataError {
  let hint: string;
  if (given === undefined) {
    hint =
      'give the passphrase the store was set up with; if it is right, the salt kept in the store was changed: restore the store from a backup';
  } else if (kept !== null && !given.equals(Buffer.from(kept, 'base64'))) {
    hint = 'this store keeps its own salt: leave encryption.keys.salt out and give the passphrase the store was set up with';
  } else hint = 'give the passphrase and the salt (encryption.keys.salt) the store was set up with';
  return new StrataError('DECRYPT_FAILED', `the passphrase (key id "${id}") does not give the key this store was written with`, {
    op: 'openStore',
    hint,
    details: { keyId: id },
  });
}

export interface OpenedCrypto {
  sealer: Sealer;
  state: CryptoState;
}

/**
 * Loads (or creates) the store's encryption record and checks the keyring against it:
 * a key id the store still uses but the keyring lacks, or a key that is not the one the store
 * was written with, is refused here, naming the key id and nothing of the key.
 */
export async function openCrypto(
  driver: Driver,
  given: { keyring?: Keyring; passphrase?: PendingPassphrase; integrity: 'checksum' | 'mac'; cacheSize?: number },
  now: number,
): Promise<OpenedCrypto> {
  for (let attempt = 0; ; attempt++) {
    const loaded = await readCryptoState(driver, now);
    const refusal =
      loaded === null
        ? await checkNoCryptoTraces(driver, now).then(
            () => null,
            (error: unknown) => {
              if (!StrataError.is(error, 'CORRUPT')) throw error;
              return error;
            },
          )
        : await contradiction(driver, loaded.state, given.integrity, now);
    if (refusal !== null) {
      // Another process creating the record, or enabling MACs, writes it before its data:
      // a record changed meanwhile is read again, one still as it was is refused.
      const again = await readCryptoState(driver, now);
      if ((again?.version ?? 0) === (loaded?.version ?? 0) || attempt > 20) throw refusal;
      continue;
    }
    const state: CryptoState = loaded?.state ?? {
      storeId: randomBytes(16).toString('base64url'),
      salt: given.passphrase && given.passphrase.salt === undefined ? randomBytes(16).toString('base64') : null,
      integrity: 'checksum',
      keys: {},
    };
    let keyring = given.keyring;
    if (keyring === undefined) {
      const pending = given.passphrase!;
      const salt = pending.salt ?? (state.salt === null ? undefined : Buffer.from(state.salt, 'base64'));
      if (salt === undefined) {
        throw new StrataError('DECRYPT_FAILED', 'no passphrase salt was given, and this store keeps none', {
          op: 'openStore',
          hint: 'pass the salt the store was set up with (encryption.keys.salt), or the keys it was written with',
        });
      }
      keyring = await deriveFromPassphrase(pending, salt);
    }
    const sealer = new Sealer(keyring, state.storeId, given.cacheSize);
    for (const [id, check] of Object.entries(state.keys)) {
      if (!keyring.keys.has(id)) {
        // A passphrase keyring holds one key and cannot be rotated: only its id can be wrong.
        throw new StrataError(
          'DECRYPT_FAILED',
          `key "${id}" still encrypts or signs data in this store but is not in the keyring`,
          {
            op: 'openStore',
            hint:
              given.passphrase !== undefined
                ? `give the passphrase under the id the store was set up with: encryption.keys: { passphrase, id: "${id}" }`
                : `add key "${id}" back to encryption.keys (CLI: --keys-file or STRATA_KEYS); once store.rotateKeys() (\`strata rotate-keys\`) reports it unused it can be removed`,
            details: { keyId: id },
          },
        );
      }
      if (sealer.keyCheck(id, state.integrity) !== check) {
        const other = state.integrity === 'mac' ? 'checksum' : 'mac';
        if (sealer.keyCheck(id, other) === check) {
          throw new StrataError(
            'CORRUPT',
            "the store's encryption record (meta.crypto) was altered: its integrity mode does not match its key checks",
            {
              op: 'openStore',
              hint: 'restore the store from a backup; someone who can write its files changed it',
              details: { space: CRYPTO_SPACE, key: STATE_KEY },
            },
          );
        }
        if (given.passphrase !== undefined) throw wrongPassphrase(id, given.passphrase.salt, state.salt);
        throw new StrataError('DECRYPT_FAILED', `key "${id}" is not the key this store was written with`, {
          op: 'openStore',
          hint: `give the original key under id "${id}" (a new key needs a new id, listed first)`,
          details: { keyId: id },
        });
      }
    }
    // Own properties only: a key id such as "constructor" is not found on Object.prototype.
    const next: CryptoState = { ...state, keys: Object.assign(Object.create(null) as Record<string, string>, state.keys) };
    // Enabling MACs is remembered: from now on every process must check (and write) them.
    if (given.integrity === 'mac') next.integrity = 'mac';
    if (!Object.hasOwn(next.keys, keyring.primary)) next.keys[keyring.primary] = '';
    // Every key of the record is in the keyring (checked above): all checks can be made anew.
    for (const id of Object.keys(next.keys)) next.keys[id] = sealer.keyCheck(id, next.integrity);
    const changed = loaded === null || JSON.stringify(next) !== JSON.stringify(state);
    if (!changed) return { sealer, state };
    if (await writeState(driver, next, loaded?.version ?? 0, now)) return { sealer, state: next };
    if (attempt > 20)
      throw new StrataError('CONFLICT', 'openStore: the encryption record kept changing under concurrent opens', {
        op: 'openStore',
      });
  }
}

/** After a rotation: forget the key ids no longer used (the primary is always kept). */
export async function retireKeys(driver: Driver, inUse: ReadonlySet<string>, primary: string, now: number): Promise<string[]> {
  for (;;) {
    const loaded = await readCryptoState(driver, now);
    if (loaded === null) return [];
    const retired = Object.keys(loaded.state.keys).filter((id) => id !== primary && !inUse.has(id));
    if (retired.length === 0) return [];
    const keys = Object.fromEntries(Object.entries(loaded.state.keys).filter(([id]) => !retired.includes(id)));
    if (await writeState(driver, { ...loaded.state, keys }, loaded.version, now)) return retired;
  }
}
