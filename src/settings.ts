import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { KvChange, KvNamespace } from './kv.js';
import { encodeJson, parseJson } from './codec/json.js';
import { checkKey } from './codec/keys.js';
import { checkOptions } from './codec/options.js';
import { StrataError, withOp } from './errors.js';

export interface SettingsOptions<T extends object> {
  /**
   * A Standard Schema (zod, valibot...) for the WHOLE settings object. Every write checks the
   * object as it would be after the write (defaults filled), so rules across keys hold too;
   * `getAll()` returns the schema's output. Give every required field a default.
   */
  schema?: StandardSchemaV1<unknown, T>;
  /** Values for keys that were never set (or were reset). Never written to the store. */
  defaults?: Partial<T>;
}

/** One settings key changed (here or in another process); `value` is what `get(key)` now returns. */
export type SettingsChange<T extends object> =
  | { type: 'change'; key: keyof T & string; value: unknown; origin: 'local' | 'remote' }
  /** Changes were lost to this listener: read `getAll()` again. */
  | { type: 'reset'; origin: 'local' | 'remote' };

const OPTIONS = ['schema', 'defaults'] as const;

/**
 * Runs `fn` as one `store.transaction` over the settings' namespace: its reads are checked
 * again at commit and `fn` reruns when another writer changed them (see src/transaction.ts).
 */
export type SettingsTransaction = <R>(fn: (kv: KvNamespace<unknown>) => Promise<R>) => Promise<R>;

/**
 * `target[key] = value` as an own property even for `__proto__`, which an assignment would
 * turn into the object's prototype (and every key of the value into inherited settings).
 */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `all[key]` when it is a setting, never a property inherited from Object.prototype (`constructor`...). */
function ownValue(all: object, key: string): unknown {
  return Object.hasOwn(all, key) ? (all as Record<string, unknown>)[key] : undefined;
}

/**
 * Application settings over one kv namespace: one key per setting, typed by a schema,
 * defaults for what was never set, `getAll()` as one object. Settings are small, so reads
 * load the whole namespace and check it against the schema as one object.
 */
export class Settings<T extends object = Record<string, unknown>> {
  readonly #kv: KvNamespace<unknown>;
  readonly #schema: StandardSchemaV1<unknown, T> | undefined;
  /** Defaults as JSON text: each read hands out a fresh copy that callers may mutate. */
  readonly #defaults = new Map<string, string>();
  readonly #transaction: SettingsTransaction;

  /** @internal Use `store.settings(name, options)`. */
  constructor(kv: KvNamespace<unknown>, options: SettingsOptions<T> | undefined, transaction: SettingsTransaction) {
    checkOptions(options, OPTIONS, 'store.settings');
    const schema = options?.schema;
    if (schema !== undefined && typeof schema?.['~standard']?.validate !== 'function') {
      throw new StrataError('BAD_INPUT', 'store.settings: schema must be a Standard Schema such as a zod object', {
        op: 'store.settings',
      });
    }
    const defaults: unknown = options?.defaults;
    if (defaults !== undefined && (defaults === null || typeof defaults !== 'object' || Array.isArray(defaults))) {
      throw new StrataError('BAD_INPUT', 'store.settings: defaults must be an object', { op: 'store.settings' });
    }
    for (const [key, value] of Object.entries(defaults ?? {})) {
      checkKey(key, 'store.settings');
      if (value !== undefined) this.#defaults.set(key, encodeJson(value));
    }
    this.#kv = kv;
    this.#schema = schema;
    this.#transaction = transaction;
  }

  /** The namespace holding the settings (one key per setting). */
  get name(): string {
    return this.#kv.name;
  }

  /**
   * Defaults overlaid with what is stored in `kv` (the transaction's handle inside a `set`),
   * as plain JSON values (before the schema). Every key is an own property.
   */
  async #raw(kv: KvNamespace<unknown> = this.#kv): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [key, text] of this.#defaults) setOwn(out, key, parseJson(text));
    for await (const [key, value] of kv.entries()) setOwn(out, key, value);
    return out;
  }

  /** What `get(key)` returns now. */
  async #current(key: string, op: string): Promise<unknown> {
    return ownValue(await this.#check(await this.#raw(), op, 'read'), key);
  }

  /** BAD_INPUT for keys a `set` writes that the schema does not know (dropped by it, or refused by a strict one). */
  #unknownKeys(op: string, keys: string[]): StrataError {
    return new StrataError('BAD_INPUT', `${op}: the schema of settings "${this.name}" has no "${keys[0]}"`, {
      op,
      hint: 'check the spelling of the key, or add it to the schema',
      details: { keys },
    });
  }

  /** `changed`: the keys a `set` writes, BAD_INPUT when the schema does not know one of them. */
  async #check(raw: Record<string, unknown>, op: string, stage: 'read' | 'write', changed: readonly string[] = []): Promise<T> {
    if (this.#schema === undefined) return raw as T;
    const result = await this.#schema['~standard'].validate(raw);
    if (!result.issues) return result.value;
    const issues = result.issues.map((issue) => ({
      path: (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.'),
      message: issue.message,
    }));
    // A strict schema (zod's strictObject, for one) reports keys it does not know in one
    // issue at the root, with their names beside it, not in its path.
    const unknown = result.issues.flatMap((issue) => {
      const keys = (issue as { keys?: unknown }).keys;
      return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
    });
    const misspelt = unknown.filter((k) => changed.includes(k));
    if (misspelt.length > 0) throw this.#unknownKeys(op, misspelt);
    const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    throw new StrataError('VALIDATION_FAILED', `${op}: settings "${this.name}" do not match the schema: ${summary}`, {
      op,
      hint:
        stage === 'read'
          ? 'a stored setting predates the schema: set it to a valid value or reset(key) it to its default'
          : 'fix the value, or give every required setting a default',
      details: { issues, keys: [...new Set([...issues.map((i) => i.path.split('.')[0]!).filter(Boolean), ...unknown])] },
    });
  }

  /** Every setting as one object: defaults filled, checked by the schema (its output is returned). */
  async getAll(): Promise<T> {
    try {
      return await this.#check(await this.#raw(), 'settings.getAll', 'read');
    } catch (error) {
      throw withOp(error, 'settings.getAll');
    }
  }

  /** One setting: stored, else its default, else `undefined`. */
  async get<K extends keyof T & string>(key: K): Promise<T[K]> {
    try {
      checkKey(key, 'settings.get');
      return (await this.#current(key, 'settings.get')) as T[K];
    } catch (error) {
      throw withOp(error, 'settings.get');
    }
  }

  /** Whether `key` is stored (a default alone does not count). */
  async has(key: keyof T & string): Promise<boolean> {
    return this.#kv.has(key);
  }

  /**
   * Sets one setting, or several at once (`set({ theme: 'dark', zoom: 1.2 })`, one atomic
   * batch). The settings as they would be afterwards must pass the schema, else
   * VALIDATION_FAILED and nothing is written; a key the schema does not know is BAD_INPUT.
   */
  async set<K extends keyof T & string>(key: K, value: T[K]): Promise<void>;
  async set(values: Partial<T>): Promise<void>;
  async set(keyOrValues: string | Partial<T>, value?: unknown): Promise<void> {
    const op = 'settings.set';
    try {
      let changes: Array<[string, unknown]>;
      if (typeof keyOrValues === 'string') {
        checkKey(keyOrValues, op);
        if (value === undefined) {
          throw new StrataError('BAD_INPUT', `${op}: the value of "${keyOrValues}" is undefined`, {
            op,
            hint: `use reset("${keyOrValues}") to go back to the default`,
          });
        }
        changes = [[keyOrValues, value]];
      } else if (keyOrValues !== null && typeof keyOrValues === 'object' && !Array.isArray(keyOrValues)) {
        changes = Object.entries(keyOrValues).filter(([, v]) => v !== undefined);
        for (const [key] of changes) checkKey(key, op);
      } else {
        throw new StrataError('BAD_INPUT', `${op}: pass (key, value) or an object of settings`, { op });
      }
      for (const [, v] of changes) encodeJson(v);
      // Without a schema nothing depends on the other settings: one batch is enough.
      if (this.#schema === undefined) await this.#kv.setMany(changes);
      else await this.#checkedWrite(changes, op);
    } catch (error) {
      throw withOp(error, op);
    }
  }

  /**
   * Reads the settings, checks them as they would be after `changes` and writes, all in one
   * transaction: a concurrent `set` (here or in another process) that changed what was read
   * makes the commit fail and the check run again on the new settings, so two sets can never
   * each pass a rule across keys (min <= max) that they break together.
   */
  async #checkedWrite(changes: Array<[string, unknown]>, op: string): Promise<void> {
    const keys = changes.map(([k]) => k);
    try {
      await this.#transaction(async (kv) => {
        const next = await this.#raw(kv);
        for (const [key, value] of changes) setOwn(next, key, value);
        const checked = await this.#check(next, op, 'write', keys);
        // Own keys only: `'toString' in checked` is true for every object.
        const unknown = keys.filter((k) => !Object.hasOwn(checked, k));
        if (unknown.length > 0) throw this.#unknownKeys(op, unknown);
        await kv.setMany(changes);
      });
    } catch (error) {
      if (!StrataError.is(error, 'CONFLICT')) throw error;
      throw new StrataError('CONFLICT', `${op}: other writers kept changing settings "${this.name}", nothing was written`, {
        op,
        cause: error,
        hint: 'retry the set later: another writer changed these settings during every attempt',
      });
    }
  }

  /** Removes stored values so they read as their defaults again: one key, several, or all. */
  async reset(key?: (keyof T & string) | ReadonlyArray<keyof T & string>): Promise<void> {
    try {
      if (key === undefined) await this.#kv.clear();
      else await this.#kv.deleteMany(Array.isArray(key) ? key : [key as string]);
    } catch (error) {
      throw withOp(error, 'settings.reset');
    }
  }

  /**
   * Calls `listener` on each change of a setting, from this process or another, in order.
   * A reset setting reports its default. Returns the unsubscribe function.
   */
  watch(listener: (change: SettingsChange<T>) => void): () => void {
    if (typeof listener !== 'function') throw new StrataError('BAD_INPUT', 'settings.watch: listener must be a function');
    // Remote puts may arrive without their value and deletes report the default: those are
    // read, and later events wait for them.
    let queue = Promise.resolve();
    let stopped = false;
    const deliver = (change: SettingsChange<T>): void => {
      if (!stopped) listener(change);
    };
    const stop = this.#kv.watch((change: KvChange<unknown>) => {
      queue = queue
        .then(async () => {
          if (change.type === 'reset') return deliver({ type: 'reset', origin: change.origin });
          const key = change.key as keyof T & string;
          let value: unknown;
          if (change.type === 'put' && 'value' in change) value = change.value;
          // A put that came without its value, or a delete: read as `get` reads it, so a
          // reset key reports its default whether `defaults` or the schema gives it.
          else value = await this.#current(key, 'settings.watch');
          deliver({ type: 'change', key, value, origin: change.origin });
        })
        .catch(() => deliver({ type: 'reset', origin: change.origin }));
    });
    return () => {
      stopped = true;
      stop();
    };
  }
}
