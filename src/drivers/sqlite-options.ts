import { checkOptions } from '../codec/options.js';
import { StrataError } from '../errors.js';

const KNOWN = ['path', 'durability', 'busyTimeoutMs', 'mmapBytes', 'readonly', 'name', 'watchLimits', 'recover'] as const;

/**
 * Refuses what `sqliteDriver` would otherwise read as something else: a durability other
 * than 'full' or 'normal' (it fell back to NORMAL, so a write was no longer safe against
 * power loss), an unknown option, numbers that are not non-negative integers.
 */
export function checkSqliteOptions(options: unknown, driver: string): void {
  const op = 'sqliteDriver';
  if (options === null || typeof options !== 'object') {
    throw new StrataError('BAD_INPUT', `${op}: pass { path }`, {
      driver,
      op,
      hint: "pass { path: 'data/app.db' }",
    });
  }
  checkOptions(options, KNOWN, op);
  const o = options as Record<string, unknown>;
  const bad = (what: string, hint: string): never => {
    throw new StrataError('BAD_INPUT', `${op}: ${what}`, { driver, op, hint });
  };
  if (typeof o.path !== 'string' || o.path === '') bad('path must be a file path or ":memory:"', "pass { path: 'data/app.db' }");
  if (o.durability !== undefined && o.durability !== 'full' && o.durability !== 'normal') {
    bad(`durability must be 'full' or 'normal', got ${JSON.stringify(o.durability)}`, "use 'full' (the default) or 'normal'");
  }
  for (const name of ['busyTimeoutMs', 'mmapBytes'] as const) {
    const value = o[name];
    if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
      bad(
        `${name} must be a whole number >= 0, got ${String(value)}`,
        `pass ${name} in ${name === 'mmapBytes' ? 'bytes' : 'milliseconds'}`,
      );
    }
  }
  if (o.readonly !== undefined && typeof o.readonly !== 'boolean') bad('readonly must be true or false', 'pass readonly: true');
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === ''))
    bad('name must be a non-empty string', "e.g. name: 'sqlite'");
  if (o.recover !== undefined && o.recover !== 'wal')
    bad(`recover must be 'wal', got ${JSON.stringify(o.recover)}`, "use recover: 'wal', or leave it out");
  if (o.watchLimits !== undefined && (o.watchLimits === null || typeof o.watchLimits !== 'object')) {
    bad('watchLimits must be an object', 'leave it out for the defaults');
  }
}
