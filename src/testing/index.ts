import { describe } from 'vitest';
import { kvSuite } from './kv-suite.js';
import { collectionSuite } from './collection-suite.js';
import { collectionApiSuite } from './collection-api-suite.js';
import { storeSuite } from './store-suite.js';
import { statsSuite } from './stats-suite.js';
import { expirySuite } from './expiry-suite.js';
import { arrayFilterSuite } from './array-filter-suite.js';
import { transactionSuite } from './transaction-suite.js';
import { watchSuite } from './watch-suite.js';
import { valueSuite } from './value-suite.js';
import { kvApiSuite } from './kv-api-suite.js';
import { encryptionSuite } from './encryption-suite.js';
import { withStack, type DriverFactory, type StackOptions } from './harness.js';
import { quotaSuite } from './quota-suite.js';
import { migrateSuite } from './migrate-suite.js';
import { transferSuite } from './transfer-suite.js';
import { backupSuite } from './backup-suite.js';
import { journalSuite } from './journal-suite.js';
import { hostileQuerySuite } from './hostile-query-suite.js';

export type { DriverFactory, Harness, StackOptions } from './harness.js';
export { makeHarness, TestClock } from './harness.js';
export { expectCode, byCodePoint } from './kv-suite.js';

/**
 * The one behavioural suite every driver and layer stack must pass (vitest).
 * `factory(location)` opens a driver on a fresh directory per test; opening the same
 * location again must see the same data when the driver is persistent.
 *
 *     runConformance('sqlite', (dir) => sqliteDriver({ path: `${dir}/db.sqlite` }));
 */
export function runConformance(name: string, driverFactory: DriverFactory, stack?: StackOptions): void {
  const factory = stack === undefined ? driverFactory : withStack(driverFactory, stack);
  // `DRIVERS=sqlite,file` narrows a local run; unset (as in CI) runs every stack.
  const only = process.env.DRIVERS?.split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  const selected =
    only === undefined ||
    only.length === 0 ||
    only.some((d) => name === d || name.startsWith(`${d} `) || name.startsWith(`${d}:`));
  (selected ? describe : describe.skip)(`conformance: ${name}`, () => {
    kvSuite(factory);
    collectionSuite(factory);
    collectionApiSuite(factory);
    storeSuite(factory);
    statsSuite(factory);
    expirySuite(factory);
    arrayFilterSuite(factory);
    hostileQuerySuite(factory);
    transactionSuite(factory);
    watchSuite(factory);
    valueSuite(factory);
    kvApiSuite(factory);
    encryptionSuite(factory);
    quotaSuite(factory);
    migrateSuite(factory);
    transferSuite(factory);
    backupSuite(factory);
    journalSuite(driverFactory, stack);
  });
}
