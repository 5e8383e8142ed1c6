// The seed's DataPersistenceLayer over one Strata store: an SQLite file in the OS data
// directory of the app and environment (dev, test and prod never share data), tokens, API
// keys and task notes encrypted under the app keyring, the seed's migrations run at start
// with a backup first and a rollback on failure, and recovery from a damaged file.
// (An app imports from 'stratadb'; this example imports the source next door.)
import { join } from 'node:path';
import { appDataDir, openStore, type Store } from '../../src/index.js';
import { SecurityManager } from './security.js';
import { SettingsRepository } from './settings.js';
import { TaskRepository } from './tasks.js';
import { MetricsRepository } from './metrics.js';
import { StateRepository } from './state.js';

export const APP_NAME = 'kazari';

export interface KazariOptions {
  /** The app keyring, `"k1:<base64 32 bytes>"` (from the OS keychain in production; STRATA_KEYS in a shell). */
  keys: string;
  /** `development`, `production`, `test`... @default process.env.NODE_ENV ?? 'development' */
  env?: string;
  /** Instead of the OS data directory (tests, a portable install). */
  dataDir?: string;
  /** The clock metrics periods are computed from. */
  now?: () => Date;
  /** The most focus sessions kept (a record quota: more is QUOTA_EXCEEDED until cleanup). @default 200,000 */
  maxSessions?: number;
}

export interface DataPersistenceLayer {
  userSettings: SettingsRepository;
  taskHistory: TaskRepository;
  sessionMetrics: MetricsRepository;
  applicationState: StateRepository;
  securityManager: SecurityManager;
  /** The store underneath, for watch, stats, backups and export. */
  store: Store;
  /** Where the store file and its backups live. */
  dataDir: string;
  close(): Promise<void>;
}

export function kazariDataDir(options: Pick<KazariOptions, 'env' | 'dataDir'> = {}): string {
  return options.dataDir ?? appDataDir(APP_NAME, options.env ?? process.env.NODE_ENV ?? 'development');
}

export const storeUrl = (dataDir: string): string => `sqlite:${encodeURIComponent(join(dataDir, 'kazari.db'))}`;

/** The primary key of a keyring string, for the SecurityManager's own derived keys. */
function primaryKey(keys: string): Buffer {
  const first = keys.split(',')[0] ?? '';
  return Buffer.from(first.slice(first.indexOf(':') + 1), 'base64');
}

export async function openKazari(options: KazariOptions): Promise<DataPersistenceLayer> {
  const dataDir = kazariDataDir(options);
  const store = await openStore({ url: storeUrl(dataDir), encryption: { keys: options.keys } });
  return layerOver(store, dataDir, options);
}

export function layerOver(store: Store, dataDir: string, options: KazariOptions): DataPersistenceLayer {
  const securityManager = new SecurityManager(primaryKey(options.keys));
  return {
    userSettings: new SettingsRepository(store),
    taskHistory: new TaskRepository(store),
    sessionMetrics: new MetricsRepository(store, options.now, options.maxSessions),
    applicationState: new StateRepository(store, securityManager),
    securityManager,
    store,
    dataDir,
    close: () => store.close(),
  };
}
