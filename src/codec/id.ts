import { monotonicFactory } from 'ulid';

/** Sortable unique ids (ULID): lexicographic order is creation order, even within one ms. */
export const newId: () => string = monotonicFactory();
