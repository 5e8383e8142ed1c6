import { createRequire } from 'node:module';

/**
 * Loads a CommonJS dependency when first needed rather than at import: pino, prom-client and
 * cli-progress together cost ~90 ms of every process start (the CLI's and an app's), and
 * most stores use none of them (no logger, no metrics scrape, no progress bar).
 */
export const loadDependency = createRequire(import.meta.url);
