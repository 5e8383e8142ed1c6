// The seed's DataPersistenceLayer over one Strata store: an SQLite file in the OS data
// directory of the app and environment (dev, test and prod never share data), tokens, API
// keys and task notes encrypted under the app keyring, the seed's migrations run at start
// with a backup first and a rollback on failure, and recovery from a damaged file.
// (An app imports from 'stratadb'; this example imports the source next door.)
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { appDataDir, openStore, StrataError, type BackupInfo, type Store } from '../../src/index.js';
import { checkKazariOptions, checkObject, checkText } from './checks.js';
import { KAZARI_MIGRATIONS, MigrationManager, upgradeImported } from './migrations.js';
import { SecurityManager } from './security.js';
import { SettingsRepository } from './settings.js';
import { TaskRepository } from './tasks.js';
import { MetricsRepository } from './metrics.js';
import { StateRepository } from './state.js';

const DAY_MS = 86_400_000;

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
  /**
   * Check the whole store at start (`store.verify()`), and when it is damaged keep the damaged
   * files aside and restore the newest backup that verifies. Without it, damage surfaces as
   * CORRUPT from the read that meets it. @default false
   */
  recover?: boolean;
  /** The most focus sessions kept (a record quota: more is QUOTA_EXCEEDED until cleanup). @default 200,000 */
  maxSessions?: number;
  /** Focus sessions older than this (ms) are removed at every start and every night at 03:00. @default 365 days */
  retention?: number;
  /** Backups kept by the hourly backup (one is also taken before migrations). @default 24 */
  backupsKept?: number;
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
  migrations: MigrationManager;
  /**
   * Everything (settings, tasks, sessions, state) into one portable file, secrets still
   * encrypted: the other installation needs the keyring they were written with.
   */
  exportData(path: string): Promise<{ records: number }>;
  /** A file from `exportData` of another installation; `replace` (default) drops what is here first. */
  importData(path: string, mode?: 'replace' | 'merge'): Promise<{ records: number }>;
  /** Set when this open restored a backup over a damaged store: which one, and where the damaged files went. */
  recovered?: { backup: string; damagedFiles: string[] };
  close(): Promise<void>;
}

export function kazariDataDir(options: Pick<KazariOptions, 'env' | 'dataDir'> = {}): string {
  checkObject(options, 'options', 'kazariDataDir', "{ env: 'production' } or { dataDir }");
  if (options.dataDir !== undefined) return checkText(options.dataDir, 'dataDir', 'kazariDataDir', 'a directory path');
  return appDataDir(APP_NAME, options.env ?? process.env.NODE_ENV ?? 'development');
}

export const storeUrl = (dataDir: string): string =>
  `sqlite:${encodeURIComponent(join(checkText(dataDir, 'dataDir', 'storeUrl', 'a directory path'), 'kazari.db'))}`;

/** The primary key of a keyring string, for the SecurityManager's own derived keys. */
function primaryKey(keys: string): Buffer {
  const first = keys.split(',')[0] ?? '';
  return Buffer.from(first.slice(first.indexOf(':') + 1), 'base64');
}

export async function openKazari(options: KazariOptions): Promise<DataPersistenceLayer> {
  checkKazariOptions(options);
  const dataDir = kazariDataDir(options);
  const url = storeUrl(dataDir);
  const open = () => openStore({ url, encryption: { keys: options.keys } });
  let store: Store;
  let recovered: DataPersistenceLayer['recovered'];
  try {
    store = await open();
    // Damage deep in the file shows only when its pages are read: with `recover`, check all now.
    if (options.recover === true) {
      const report = await store.verify().catch((error: unknown) => {
        void store.close();
        throw error;
      });
      if (report.issues.some((i) => i.code === 'CORRUPT' || i.code === 'INTEGRITY')) {
        await store.close();
        throw new StrataError('CORRUPT', `the Kazari store in ${dataDir} is damaged: ${report.issues[0]?.message ?? ''}`);
      }
    }
  } catch (error) {
    if (!(options.recover === true && StrataError.is(error, 'CORRUPT'))) throw error;
    recovered = await restoreLatest(dataDir, open);
    store = await open();
  }
  // The seed's migrations at every start: a backup first, the whole run undone on a failure.
  try {
    await store.migrate({ migrations: KAZARI_MIGRATIONS });
  } catch (error) {
    await store.close();
    throw error;
  }
  const layer = layerOver(store, dataDir, options);
  if (recovered !== undefined) layer.recovered = recovered;
  // Obsolete data goes by itself: at start (a quota filled by years-old sessions must not
  // refuse today's) and nightly while the app runs.
  const retention = options.retention ?? 365 * DAY_MS;
  try {
    await layer.sessionMetrics.cleanup(retention);
    store.schedule('0 3 * * *', 'kazari-cleanup', () => layer.sessionMetrics.cleanup(retention));
    // A verified backup every hour the app runs (one window takes it): what recovery restores.
    store.schedule('0 * * * *', 'kazari-backup', async () => {
      await store.backup();
      await store.backups.prune({ keep: options.backupsKept ?? 24 });
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  return layer;
}

/**
 * Moves the damaged store files aside (never deleted: the user may want them), then restores
 * the newest backup that verifies into a new store at the same place.
 */
async function restoreLatest(dataDir: string, open: () => Promise<Store>): Promise<{ backup: string; damagedFiles: string[] }> {
  const file = join(dataDir, 'kazari.db');
  const suffix = `.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const damagedFiles: string[] = [];
  for (const part of ['', '-wal', '-shm']) {
    if (!existsSync(file + part)) continue;
    renameSync(file + part, file + suffix + part);
    damagedFiles.push(file + suffix + part);
  }
  const store = await open();
  try {
    const backups = (await store.backups.list()).filter((b): b is BackupInfo => !('damaged' in b)).sort((a, b) => +b.at - +a.at);
    for (const backup of backups) {
      try {
        await store.backups.verify(backup.id);
      } catch {
        continue; // a damaged or truncated backup: try the one before it
      }
      await store.restore(backup.id);
      return { backup: backup.id, damagedFiles };
    }
    throw new StrataError('CORRUPT', `the Kazari store in ${dataDir} is damaged and no backup of it verifies`, {
      hint: `the damaged files were kept as ${damagedFiles.join(', ')}`,
    });
  } finally {
    await store.close();
  }
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
    migrations: new MigrationManager(store),
    exportData: async (path) => ({ records: (await store.export(path)).records }),
    importData: async (path, mode = 'replace') => {
      const { records } = await store.import(path, { mode });
      await upgradeImported(store);
      return { records };
    },
    close: () => store.close(),
  };
}
