// Which libraries run, and at which sizes. Whole-file and file-per-key peers (and the file
// driver) run up to `peerMax` records (20k by default): past that they are not the tool
// anyone would pick, and their prefill alone would blow the time budget. The zod variants
// (collection workloads only) run up to `peerMax` too: the collection targets are at 20k.
import { strataTarget } from './strata.mjs';
import { rawSqlite, rawSqliteTarget } from './raw-sqlite.mjs';
import { keyvSqlite } from './keyv.mjs';
import { lowdb } from './lowdb.mjs';
import { conf } from './conf.mjs';
import { nodePersist } from './node-persist.mjs';
import { unstorageFs } from './unstorage.mjs';

/** Column order of the report. */
export const ALL = [
  strataTarget('sqlite'),
  rawSqlite,
  strataTarget('sqlite', { zod: true }),
  rawSqliteTarget({ zod: true }),
  strataTarget('sqlite', { encrypted: true }),
  strataTarget('file'),
  keyvSqlite,
  lowdb,
  conf,
  nodePersist,
  unstorageFs,
];

/**
 * Targets for one size.
 * @param {number} size
 * @param {{ peerMax: number, only?: string[] }} options
 */
export function targetsFor(size, options) {
  return ALL.filter((t) => {
    if (options.only && !options.only.includes(t.id)) return false;
    return t.id === 'strata-sqlite' || t.id === 'raw-sqlite' || size <= options.peerMax;
  });
}

/**
 * Strata sqlite and raw better-sqlite3 on a `size`-record store, run next to the largest
 * size's stores so throughput at both sizes is measured side by side.
 * @param {number} size
 * @param {{ only?: string[] }} options
 */
export function companionsFor(size, options) {
  return ALL.filter(
    (t) => (t.id === 'strata-sqlite' || t.id === 'raw-sqlite') && (!options.only || options.only.includes(t.id)),
  ).map((target) => ({ target, size }));
}
