import type { Filter, JsonValue, Path, SortSpec } from '../query/ast.js';
import type { ScanQuery } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import type { Sealer } from './aead.js';
import { LOOKUP_MEMBER, lookupToken } from './record-codec.js';
import type { EncryptedField, SpaceEncryption } from './spec.js';

/**
 * Queries over collections with encrypted fields. An encrypted field's stored value is
 * ciphertext, so a filter, sort or index over it would silently compare ciphertext: refused.
 * The one exception is equality (`eq`, `in`) on a field declared `lookup`, answered by its
 * keyed token: one token per key of the keyring, since documents not yet rotated carry
 * tokens made with an older key.
 */

function overlapping(path: Path, fields: readonly EncryptedField[]): EncryptedField | undefined {
  return fields.find((f) => {
    const n = Math.min(f.path.length, path.length);
    for (let i = 0; i < n; i++) if (f.path[i] !== path[i]) return false;
    return true;
  });
}

function refused(space: string, field: EncryptedField, what: string, hint?: string): StrataError {
  return new StrataError('BAD_INPUT', `${space}: field "${field.name}" is encrypted, so it cannot be ${what}`, {
    hint:
      hint ??
      (field.lookup
        ? 'a lookup field answers equality only: { field: value } or { field: { $in: [...] } }'
        : 'declare it as { path, lookup: true } in encrypt for equality look-ups, or filter on another field'),
    details: { field: field.name },
  });
}

/**
 * For each lookup field (by name) a query compares: each token it looks for -> the JSON text
 * of the value it stands for. A token says nothing of the ciphertext next to it (someone
 * without the key can copy one into another document), so what the query returns is checked
 * against it once decrypted (see RecordCodec.decode).
 */
export type LookupChecks = Map<string, Map<string, string>>;

function tokens(
  sealer: Sealer,
  keyIds: readonly string[],
  space: string,
  field: EncryptedField,
  values: readonly JsonValue[],
  checks: LookupChecks | undefined,
): JsonValue[] {
  const out: JsonValue[] = [];
  for (const value of values) {
    if (value === null || typeof value === 'object') {
      throw new StrataError(
        'BAD_INPUT',
        `${space}: lookup field "${field.name}" is compared with strings, numbers or booleans only`,
        {
          hint: 'a null or object value cannot be looked up in an encrypted field',
        },
      );
    }
    let expected: Map<string, string> | undefined;
    if (checks !== undefined) {
      expected = checks.get(field.name);
      if (expected === undefined) checks.set(field.name, (expected = new Map()));
    }
    for (const id of keyIds) {
      const token = lookupToken(sealer, id, space, field.name, value);
      expected?.set(token, JSON.stringify(value));
      out.push(token);
    }
  }
  return out;
}

export function rewriteFilter(
  filter: Filter,
  space: string,
  spec: SpaceEncryption,
  sealer: Sealer | null,
  keyIds: readonly string[],
  checks?: LookupChecks,
): Filter {
  if (filter.op === 'all') return filter;
  if ('filters' in filter) {
    return { op: filter.op, filters: filter.filters.map((f) => rewriteFilter(f, space, spec, sealer, keyIds, checks)) };
  }
  const field = overlapping(filter.path, spec.fields);
  if (field === undefined) return filter;
  const exact = field.path.length === filter.path.length;
  // Presence is not hidden by encryption (the field is stored either way).
  if (exact && filter.op === 'exists') return filter;
  if (!exact || !field.lookup || (filter.op !== 'eq' && filter.op !== 'in')) return refusedFilter(space, field, filter.op);
  if (sealer === null) {
    throw new StrataError(
      'DECRYPT_FAILED',
      `${space}: the store was opened without a keyring, so "${field.name}" cannot be looked up`,
      {
        hint: 'open the store with encryption: { keys } (CLI: --keys-file or STRATA_KEYS)',
      },
    );
  }
  const values = filter.op === 'eq' ? [filter.value] : filter.values;
  return { op: 'in', path: [...field.path, LOOKUP_MEMBER], values: tokens(sealer, keyIds, space, field, values, checks) };
}

function refusedFilter(space: string, field: EncryptedField, op: string): never {
  throw refused(
    space,
    field,
    `filtered with ${op === 'eq' || op === 'in' ? 'equality' : `$${op}`} (only lookup fields answer equality)`,
  );
}

export function checkSort(sort: readonly SortSpec[] | undefined, space: string, spec: SpaceEncryption): void {
  for (const s of sort ?? []) {
    const field = overlapping(s.path, spec.fields);
    // A lookup field answers equality only, so declaring one would not help a sort.
    if (field !== undefined) {
      throw refused(
        space,
        field,
        'sorted on',
        'encrypted fields cannot be sorted on, lookup ones neither (they answer equality only): sort on another field',
      );
    }
  }
}

export function rewriteQuery<Q extends Pick<ScanQuery, 'filter' | 'sort'>>(
  query: Q,
  space: string,
  spec: SpaceEncryption,
  sealer: Sealer | null,
  keyIds: readonly string[],
  checks?: LookupChecks,
): Q {
  checkSort(query.sort, space, spec);
  if (query.filter === undefined || spec.fields.length === 0) return query;
  return { ...query, filter: rewriteFilter(query.filter, space, spec, sealer, keyIds, checks) };
}

/** Index paths as stored: a lookup field is indexed by its token; other encrypted fields cannot be. */
export function rewriteIndexes(
  indexes: readonly string[] | undefined,
  space: string,
  spec: SpaceEncryption,
): string[] | undefined {
  if (indexes === undefined) return undefined;
  if (!Array.isArray(indexes) || indexes.some((name) => typeof name !== 'string')) {
    throw new StrataError('BAD_INPUT', `${space}: indexes must be an array of field paths`, {
      hint: "list dotted field paths, e.g. indexes: ['status', 'profile.city']",
    });
  }
  return indexes.map((name) => {
    const field = overlapping(name.split('.'), spec.fields);
    if (field === undefined) return name;
    if (field.lookup && field.name === name) return `${name}.${LOOKUP_MEMBER}`;
    throw refused(space, field, 'indexed');
  });
}
