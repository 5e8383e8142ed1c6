// The seed's SettingsRepository: one kv key per setting, the sensitive ones (apiKeys, tokens,
// credentials) in a namespace encrypted at rest, every write checked against the whole schema
// and committed in one transaction (a crash never leaves half an update).
import { StrataError, type Store } from '../../src/index.js';
import { checkText } from './checks.js';
import { DEFAULT_SETTINGS, UserSettingsSchema, type UserSettings } from './domain.js';

export const SETTINGS_NS = 'settings';
export const SECURE_SETTINGS_NS = 'settings-secure';
const SENSITIVE = ['apiKeys', 'tokens', 'credentials'];

export const isSensitive = (key: string): boolean => SENSITIVE.some((prefix) => key.startsWith(prefix));

export class SettingsRepository {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
    store.kv(SECURE_SETTINGS_NS, { encrypt: true });
  }

  #ns(key: string): string {
    return isSensitive(key) ? SECURE_SETTINGS_NS : SETTINGS_NS;
  }

  async get<T>(key: string): Promise<T | null> {
    checkText(key, 'the setting name', 'settings.get', `one of ${Object.keys(DEFAULT_SETTINGS).join(', ')}`);
    const stored = await this.#store.kv<T>(this.#ns(key)).get(key);
    if (stored !== null) return stored;
    return Object.hasOwn(DEFAULT_SETTINGS, key) ? (structuredClone(DEFAULT_SETTINGS[key as keyof UserSettings]) as T) : null;
  }

  async set<T>(key: string, value: T): Promise<void> {
    checkText(key, 'the setting name', 'settings.set', `one of ${Object.keys(DEFAULT_SETTINGS).join(', ')}`);
    await this.update({ [key]: value } as Partial<UserSettings>);
  }

  async getAll(): Promise<UserSettings> {
    const merged: Record<string, unknown> = structuredClone(DEFAULT_SETTINGS);
    for (const ns of [SETTINGS_NS, SECURE_SETTINGS_NS]) {
      for await (const [key, value] of this.#store.kv(ns).entries()) merged[key] = value;
    }
    return parse(merged, 'getAll');
  }

  /**
   * Checks the settings as they would be after the update, then writes every changed key at
   * once. Given a function, it is called with the current settings and returns the updates:
   * an atomic read-modify-write, rerun when another window changed them in between.
   */
  async update(updates: Partial<UserSettings> | ((current: UserSettings) => Partial<UserSettings>)): Promise<UserSettings> {
    if (typeof updates !== 'function') checkUpdates(updates);
    return this.#store.transaction(async (tx) => {
      const merged: Record<string, unknown> = structuredClone(DEFAULT_SETTINGS);
      for (const ns of [SETTINGS_NS, SECURE_SETTINGS_NS]) {
        const keys = Object.keys(DEFAULT_SETTINGS);
        const values = await tx.kv(ns).getMany(keys);
        keys.forEach((key, i) => {
          if (values[i] !== null) merged[key] = values[i];
        });
      }
      const changes = typeof updates === 'function' ? checkUpdates(updates(parse(merged, 'update'))) : updates;
      const next = parse({ ...merged, ...changes }, 'update');
      for (const key of Object.keys(changes)) await tx.kv(this.#ns(key)).set(key, next[key as keyof UserSettings]);
      return next;
    });
  }

  async reset(): Promise<void> {
    await this.#store.transaction(async (tx) => {
      for (const ns of [SETTINGS_NS, SECURE_SETTINGS_NS]) for (const key of await tx.kv(ns).list()) await tx.kv(ns).delete(key);
    });
  }

  /** The non-sensitive settings as JSON text (secrets travel only in an encrypted store export). */
  async export(): Promise<string> {
    const all = await this.getAll();
    const plain = Object.fromEntries(Object.entries(all).filter(([key]) => !isSensitive(key)));
    return JSON.stringify({ format: 'kazari-settings', version: 1, settings: plain });
  }

  async import(data: string): Promise<void> {
    checkText(data, 'the data', 'settings.import', 'the text export() returned');
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch (error) {
      throw new StrataError('BAD_INPUT', 'settings.import: the data is not JSON', { cause: error });
    }
    const doc = parsed as { format?: unknown; version?: unknown; settings?: unknown };
    if (doc?.format !== 'kazari-settings' || doc.version !== 1 || doc.settings === null || typeof doc.settings !== 'object') {
      throw new StrataError('BAD_INPUT', 'settings.import: not a Kazari settings export (format kazari-settings, version 1)');
    }
    const settings = UserSettingsSchema.partial().strict().safeParse(doc.settings);
    if (!settings.success) throw new StrataError('VALIDATION_FAILED', `settings.import: ${settings.error.message}`);
    const sensitive = Object.keys(settings.data).filter(isSensitive);
    if (sensitive.length > 0)
      throw new StrataError('BAD_INPUT', `settings.import: sensitive settings are not imported (${sensitive.join(', ')})`);
    await this.update(settings.data);
  }
}

function checkUpdates(updates: Partial<UserSettings>): Partial<UserSettings> {
  if (updates === null || typeof updates !== 'object' || Array.isArray(updates)) {
    throw new StrataError('BAD_INPUT', 'settings.update takes an object of settings');
  }
  for (const key of Object.keys(updates)) {
    if (!Object.hasOwn(DEFAULT_SETTINGS, key)) {
      throw new StrataError('BAD_INPUT', `unknown setting "${key}"`, {
        hint: `known: ${Object.keys(DEFAULT_SETTINGS).join(', ')}`,
      });
    }
  }
  return updates;
}

function parse(value: unknown, op: string): UserSettings {
  const result = UserSettingsSchema.safeParse(value);
  if (!result.success) throw new StrataError('VALIDATION_FAILED', `settings.${op}: ${result.error.message}`);
  return result.data;
}
