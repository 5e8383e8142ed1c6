// `stratadb/kits/sync`: incremental mirroring of a paginated source (seed 001's collector),
// built only on the public Store API: per stream, covered ranges of a cursor field, "is this
// page already covered", a checkpoint saved in the same transaction as the items it covers,
// batched saves, and per-item "details already fetched" checks. See docs/kits-sync.md.
export { RangeSet, BEGINNING, END, toRange } from './ranges.js';
export type { Range } from './ranges.js';
export type { Bound } from './bounds.js';
export { SyncStream } from './stream.js';
export type { SyncStreamOptions, SaveOptions, SaveResult } from './stream.js';
export type { StreamState } from './state.js';
export { ItemDetails } from './details.js';
