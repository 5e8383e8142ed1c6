import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkName } from './codec/keys.js';

/**
 * The OS-conventional data directory for an app and environment:
 * Linux `$XDG_DATA_HOME` (or `~/.local/share`), macOS `~/Library/Application Support`,
 * Windows `%APPDATA%`; then `<appName>/<env>`, so dev, test and prod never share data.
 */
export function appDataDir(appName: string, env: string, platform: NodeJS.Platform = process.platform): string {
  checkName(appName, 'appName');
  checkName(env, 'env');
  const home = homedir();
  let base: string;
  if (platform === 'darwin') base = join(home, 'Library', 'Application Support');
  else if (platform === 'win32') base = process.env.APPDATA ?? join(home, 'AppData', 'Roaming');
  else base = process.env.XDG_DATA_HOME || join(home, '.local', 'share');
  return join(base, appName, env);
}
