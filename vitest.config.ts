import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two workers on the 2-core machines this runs on: most files wait on child processes,
    // fsync and timers, so two at once nearly halve the wall time (vitest's default is cores - 1).
    maxWorkers: 2,
    minWorkers: 1,
    // Each worker runs its files in one module graph instead of importing src anew per file
    // (that import was ~0.7 s of CPU per file, 150 s a run). Tests restore what they change.
    isolate: false,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
