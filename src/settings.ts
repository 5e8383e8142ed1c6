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
 * Application settings over one kv namespace: one key per setting, typed by a schema,
 * defaults for what was never set, `getAll()` as one object. Settings are small, so reads
 * load the whole namespace and check it against the schema as one object.
 */
export class Settings<T extends object = Record<string, unknown>> {
  readonly #kv: KvNamespace<unknown>;
  readonly #schema: StandardSchemaV1<unknown, T> | undefined;
  /** Defaults as JSON text: each read hands out a fresh copy that callers may mutate. */
  readonly #defaults = new Map<string, string>();

  /** @internal Use `store.settings(name, options)`. */
  constructor(kv: KvNamespace<unknown>, options?: SettingsOptions<T>) {
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
  }

  /** The namespace holding the settings (one key per setting). */
  get name(): string {
    return this.#kv.name;
  }

  /** Defaults overlaid with what is stored, as plain JSON values (before the schema). */
  async #raw(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [key, text] of this.#defaults) out[key] = parseJson(text);
    for await (const [key, value] of this.#kv.entries()) out[key] = value;
    return out;
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
      return (await this.#check(await this.#raw(), 'settings.get', 'read'))[key];
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
      if (this.#schema !== undefined) {
        const next = { ...(await this.#raw()), ...Object.fromEntries(changes) };
        const checked = (await this.#check(
          next,
          op,
          'write',
          changes.map(([k]) => k),
        )) as Record<string, unknown>;
        const unknown = changes.map(([k]) => k).filter((k) => !(k in checked));
        if (unknown.length > 0) throw this.#unknownKeys(op, unknown);
      }
      await this.#kv.setMany(changes);
    } catch (error) {
      throw withOp(error, op);
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
    // Remote puts may arrive without their value: it is read, and later events wait for it.
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
          else if (change.type === 'put') value = await this.#kv.get(key);
          else value = this.#defaults.has(key) ? parseJson(this.#defaults.get(key)!) : undefined;
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
