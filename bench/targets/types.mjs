// Shapes shared by every target adapter (JSDoc only; nothing runs here).

/**
 * An open store. Methods may return plain values (synchronous libraries) or promises;
 * workloads await only what is a promise, so synchronous libraries pay no await tax.
 * @typedef {object} Handle
 * @property {(key: string, value: object) => unknown} set      one durable write
 * @property {(key: string) => unknown} get                     one read (value or null/undefined)
 * @property {(entries: Array<[string, object]>) => unknown} setMany  one batch write
 * @property {() => Promise<number>} readAll                    reads every record, returns how many
 * @property {(status: string) => unknown} [query]               documents whose status equals `status`
 * @property {CollectionHandle} [coll]                          the documents collection (`key: 'id'`, index on status)
 * @property {() => Promise<void>|void} close
 */

/**
 * The collection workloads' view of a store's documents (plain values or promises).
 * @typedef {object} CollectionHandle
 * @property {(key: string) => unknown} get                     one document or null
 * @property {(doc: object) => unknown} upsert                  one durable insert-or-replace by `doc.id`
 * @property {(docs: object[]) => unknown} upsertMany           all of them in one atomic write
 * @property {(status: string, cursor: string|null, limit: number) => unknown} page  `{ items, next }`
 */

/**
 * A library under test.
 * @typedef {object} Target
 * @property {string} id
 * @property {string} label
 * @property {string} durability   what a "durable set" means for it (shown in RESULTS.md)
 * @property {boolean} [query]     has an indexed query path
 * @property {boolean} [coll]      has a documents collection (the c-* workloads)
 * @property {boolean} [collectionOnly]  runs only the workloads that need `query` or `coll`
 * @property {(dir: string, size: number, withDocs: boolean) => Promise<void>} prefill  creates a store of `size` records in `dir`
 * @property {(dir: string) => Promise<Handle>} open
 */

export {};
