import seqSet from './seq-set.mjs';
import randomGet from './random-get.mjs';
import batchSet from './batch-set.mjs';
import reopenRead from './reopen-read.mjs';
import query from './query.mjs';
import mix from './mix.mjs';
import cGet from './c-get.mjs';
import cSet from './c-set.mjs';
import cUpsertMany from './c-upsert-many.mjs';
import cPage from './c-page.mjs';

/** Run order. */
export const WORKLOADS = [seqSet, randomGet, batchSet, reopenRead, query, mix, cGet, cSet, cUpsertMany, cPage];
