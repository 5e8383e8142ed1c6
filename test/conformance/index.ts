// The conformance suite lives in src/testing so it ships as `stratadb/testing`;
// this re-export is where the repository's own tests find it.
export { runConformance, makeHarness, expectCode, TestClock, byCodePoint } from '../../src/testing/index.js';
export type { DriverFactory, Harness } from '../../src/testing/index.js';
