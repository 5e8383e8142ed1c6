// The public surface of `stratadb`. Everything a user imports comes from here or from a
// documented subpath (`stratadb/drivers/*`, `stratadb/testing`, `stratadb/keyv`); nothing else is exported.
export { openStore, Store, DEFAULT_URL } from './store.js';
export type {
  CollectionSpec,
  OpenStoreOptions,
  SpaceUsage,
  StoreBackups,
  StoreStats,
  TransactionOptions,
  TransactionScope,
} from './store.js';
export { localTarget, s3Target, type S3TargetOptions } from './ops/backup.js';
export type {
  BackupInfo,
  BackupManifest,
  BackupOptions,
  BackupPart,
  BackupProgress,
  BackupResult,
  BackupTarget,
  DamagedBackupInfo,
  PruneOptions,
  PruneResult,
  RestoreOptions,
  RestoreResult,
  VerifyBackupOptions,
  VerifyBackupResult,
  CheckProgress,
} from './ops/backup.js';
export type { JournalOptions } from './ops/journal-state.js';
export type { PitrPlan } from './ops/pitr.js';
export type { PointInTimeResult } from './ops/pitr-store.js';
export { KvNamespace } from './kv.js';
export type { KvOptions, KvEntry, KvChange, SetOptions, ListOptions, GetOptions } from './kv.js';
export { Settings } from './settings.js';
export type { SettingsOptions, SettingsChange } from './settings.js';
export { Collection } from './collection.js';
export type {
  CollectionOptions,
  CollectionVerifyReport,
  DedupeKeep,
  DedupeOptions,
  DocChange,
  DocEntry,
  Filter,
  Insertable,
  IterateOptions,
  KeysOptions,
  Page,
  PageOptions,
  QueryOptions,
  Sort,
} from './collection-types.js';
export { StrataError, ERROR_CODES } from './errors.js';
export type { EncryptionOptions, KeyInput, KeyringInput, PassphraseInput } from './crypto/keyring.js';
export type { EncryptFieldInput } from './crypto/spec.js';
export type { RotateOptions, RotateProgress, RotationReport } from './crypto/rotate.js';
export type { ExportOptions, ExportReport } from './ops/transfer/export.js';
export type { ImportOptions, ImportReport } from './ops/transfer/import.js';
export type { TransferProgress } from './ops/transfer/context.js';
export { MAX_VALUE_DEPTH } from './codec/json.js';
export type { StrataErrorCode, StrataErrorOptions } from './errors.js';
export type { Duration } from './codec/duration.js';
export type { Quota } from './layers/quota.js';
export type { MetricsOptions } from './observe/observer.js';
export type { StoreLogger } from './observe/logger.js';
export type { Durability } from './drivers/registry.js';
export type {
  Driver,
  DriverCapabilities,
  DriverStats,
  StoredRecord,
  ScanQuery,
  ScanPosition,
  WriteOp,
  BatchResult,
  ChangeEvent,
  SpaceSpec,
  VerifyReport,
  VerifyIssue,
  VerifyOptions,
  VerifyProgress,
} from './drivers/driver.js';
export { appDataDir } from './paths.js';
export { jobs } from './ops/jobs.js';
export type { RetainOptions } from './ops/jobs.js';
export type { ScheduleOptions, ScheduleContext, ScheduledFunction, ScheduledJob } from './ops/schedule.js';
export type { ScheduleStats } from './ops/schedule-stats.js';
export type { ScheduleRun } from './ops/lease.js';
export type { Migrations } from './ops/migrate.js';
export type {
  BatchesOptions,
  BatchFunction,
  DownOptions,
  Migration,
  MigrationContext,
  MigrationFunction,
  MigrationSource,
  MigrationStatus,
  MigrateOptions,
  MigrateProgress,
  MigrateResult,
  SqlRow,
  SqlTag,
} from './ops/migrate-types.js';
