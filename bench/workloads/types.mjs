// Shape of a workload (JSDoc only).

/**
 * Everything a workload may use for one target at one size.
 * @typedef {object} Context
 * @property {number} size             records in the store
 * @property {string[]} keys           keys of all records
 * @property {Uint32Array} picks       65,536 random record indexes (same sequence for every target)
 * @property {object[]} values         1,024 values that writes cycle through
 * @property {number} pending          records the query must return
 * @property {import('../targets/types.mjs').Target} target
 * @property {string} dir              the target's store directory
 * @property {Record<string, number>} cursors  where each workload left off: rounds continue, never replay
 *   (SQLite skips the write, and so the fsync, of an UPDATE that stores identical bytes)
 * @property {() => import('../targets/types.mjs').Handle} handle    the current open handle
 * @property {(h: import('../targets/types.mjs').Handle) => void} setHandle
 */

/**
 * @typedef {object} Workload
 * @property {string} id
 * @property {string} title
 * @property {string} unit
 * @property {boolean} [slow]      writes: a target's op cap applies (whole-file writers)
 * @property {boolean} [noWarmup]  each step is long and self-contained
 * @property {'query'|'coll'} [needs]  runs only on targets with this capability (others: not on `collectionOnly` targets)
 * @property {(h: import('../targets/types.mjs').Handle, ctx: Context) => (n: number) => Promise<number>} step
 */

export {};
