import { createHash, type Hash } from 'node:crypto';
import { encodeJson } from '../../codec/json.js';
import { MAX_TIME_MS, MAX_VERSION, storedDateMs } from '../../codec/duration.js';
import { checkKey, checkName } from '../../codec/keys.js';
import { StrataError } from '../../errors.js';
import { compareStrings } from '../../query/match.js';
import {
  badFile,
  FORMAT_NAME,
  FORMAT_VERSION,
  isTransferSpace,
  recordLine,
  spaceRank,
  type Manifest,
  type SpaceTotals,
  type TransferRecord,
} from './format.js';
import { readLines, type Line } from './reader.js';

/** What a whole file held, once its trailer matched. */
export interface ExportSummary {
  manifest: Manifest;
  /** sha256 of the file's bytes. */
  fileSha256: string;
  records: number;
  spaces: Record<string, SpaceTotals>;
}

const PROTO = Symbol('proto');

function refuseProto(this: unknown, key: string, value: unknown): unknown {
  if (key === '__proto__') throw PROTO;
  return value;
}

/** JSON.parse that refuses `__proto__` keys anywhere (spelt out or behind a `\u` escape). */
function parseLine(line: Line): unknown {
  try {
    const { text } = line;
    return text.includes('__proto__') || text.includes('\\u') ? JSON.parse(text, refuseProto) : JSON.parse(text);
  } catch (error) {
    if (error === PROTO) {
      throw badFile('BAD_INPUT', line.no, 'it holds a "__proto__" key, which Strata refuses (prototype pollution)');
    }
    throw badFile('CORRUPT', line.no, 'it is not valid JSON', { cause: error });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function exactKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && own.every((k) => keys.includes(k));
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_TIME_MS;

function checkManifest(line: Line): Manifest {
  const raw = parseLine(line);
  if (!isObject(raw) || raw.format !== FORMAT_NAME) {
    throw badFile('CORRUPT', line.no, `it is not a Strata export (the first line must be its manifest, format "${FORMAT_NAME}")`);
  }
  if (raw.version !== FORMAT_VERSION) {
    throw new StrataError(
      'BAD_INPUT',
      `store.import: the file is export format version ${JSON.stringify(raw.version)}; this Strata reads version ${FORMAT_VERSION}`,
      {
        op: 'store.import',
        hint: 'import it with the Strata version that wrote it, or upgrade stratadb',
        details: { line: line.no, version: raw.version },
      },
    );
  }
  const source = raw.source;
  const ok =
    exactKeys(raw, ['format', 'version', 'createdAt', 'source', 'values']) &&
    typeof raw.createdAt === 'string' &&
    storedDateMs(raw.createdAt) !== null &&
    isObject(source) &&
    exactKeys(source, ['driver']) &&
    typeof source.driver === 'string' &&
    (raw.values === 'stored' || raw.values === 'decrypted');
  if (!ok) throw badFile('CORRUPT', line.no, 'the manifest has missing, unknown or mistyped fields');
  const manifest = raw as unknown as Manifest;
  if (JSON.stringify(manifest) !== line.text) throw badFile('CORRUPT', line.no, 'the manifest is not in canonical form');
  return manifest;
}

function checkSpace(line: Line, raw: Record<string, unknown>, previous: string | null, seen: Set<string>): string {
  const space = raw.space;
  if (!exactKeys(raw, ['space']) || typeof space !== 'string')
    throw badFile('CORRUPT', line.no, 'a space header must be {"space": name}');
  if (!isTransferSpace(space))
    throw badFile(
      'BAD_INPUT',
      line.no,
      `"${space}" is not a space an export carries (kv.*, c.*, meta.collections, meta.encrypted, meta.crypto)`,
    );
  if (!space.startsWith('meta.')) {
    try {
      checkName(space.slice(space.indexOf('.') + 1), space.startsWith('kv.') ? 'namespace' : 'collection');
    } catch (cause) {
      throw badFile('BAD_INPUT', line.no, `"${space}" is not a valid space name`, { cause });
    }
  }
  if (seen.has(space)) throw badFile('CORRUPT', line.no, `space "${space}" appears twice`);
  if (previous !== null) {
    // The meta spaces come first (import needs them to read the records they describe); user spaces in any order.
    if (spaceRank(previous) > spaceRank(space)) {
      throw badFile(
        'CORRUPT',
        line.no,
        `space "${space}" is out of order (meta.crypto, meta.encrypted, meta.collections come first)`,
      );
    }
  }
  if (JSON.stringify({ space }) !== line.text) throw badFile('CORRUPT', line.no, 'the space header is not in canonical form');
  return space;
}

function checkRecord(line: Line, raw: Record<string, unknown>, space: string, previousKey: string | null): TransferRecord {
  if (!exactKeys(raw, ['k', 'v', 'ver', 'c', 'u', 'x'])) {
    throw badFile('CORRUPT', line.no, 'a record line has exactly the fields k, v, ver, c, u, x', {
      details: { fields: Object.keys(raw) },
    });
  }
  const { k: key, ver: version, c: createdAt, u: updatedAt, x: expiresAt } = raw;
  try {
    checkKey(key, 'store.import');
  } catch (cause) {
    throw badFile('BAD_INPUT', line.no, `the record key is not a valid Strata key: ${(cause as Error).message}`, { cause });
  }
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1 || version > MAX_VERSION) {
    throw badFile('CORRUPT', line.no, `the record version must be an integer from 1 to ${MAX_VERSION}`);
  }
  if (!isTime(createdAt) || !isTime(updatedAt) || !(expiresAt === null || isTime(expiresAt))) {
    throw badFile(
      'CORRUPT',
      line.no,
      `the record times (c, u, x) must be epoch milliseconds from 0 to ${MAX_TIME_MS} (x may be null)`,
    );
  }
  if (previousKey !== null && compareStrings(previousKey, key) >= 0) {
    throw badFile(
      'CORRUPT',
      line.no,
      compareStrings(previousKey, key) === 0
        ? `key "${key}" appears twice in ${space}`
        : `key "${key}" is out of order in ${space}`,
    );
  }
  if (space.startsWith('c.') && !isObject(raw.v))
    throw badFile('BAD_INPUT', line.no, `document "${key}" in ${space} is not an object`);
  let value: string;
  try {
    value = encodeJson(raw.v);
  } catch (cause) {
    throw badFile('BAD_INPUT', line.no, `the value of "${key}" in ${space} cannot be stored: ${(cause as Error).message}`, {
      cause,
    });
  }
  const record: TransferRecord = {
    space,
    key,
    value,
    version,
    createdAt,
    updatedAt,
    expiresAt: expiresAt as number | null,
    line: line.no,
  };
  // Canonical form: exactly what the writer makes. This refuses, without a second parse, numbers
  // that lose precision, duplicated object members, escapes and spacing an exporter never writes.
  if (recordLine(record) !== line.text)
    throw badFile('CORRUPT', line.no, `the record "${key}" is not in canonical form (it was not written by store.export)`);
  return record;
}

function checkTrailer(line: Line, raw: Record<string, unknown>, records: number, spaces: Record<string, SpaceTotals>): void {
  const expected = JSON.stringify({ end: true, records, spaces });
  if (line.text === expected) return;
  const given = isObject(raw.spaces) ? raw.spaces : {};
  const differs = [...new Set([...Object.keys(spaces), ...Object.keys(given)])].filter(
    (space) => JSON.stringify(given[space]) !== JSON.stringify(spaces[space]),
  );
  throw badFile(
    'CORRUPT',
    line.no,
    `the trailer's counts and checksums do not match the records${differs.length > 0 ? ` (spaces: ${differs.slice(0, 5).join(', ')})` : ''}`,
    {
      details: { spaces: differs },
    },
  );
}

/**
 * Reads and checks an export file line by line, yielding records in batches once their lines
 * are known good; the generator's return value is the summary, produced only after the trailer matched
 * every count and checksum and nothing follows it. Any problem throws (CORRUPT, BAD_INPUT or
 * UNSUPPORTED) naming the line. Holds one decompressed chunk's lines and the current space's hash in memory.
 */
export async function* readExport(
  path: string,
  onManifest?: (manifest: Manifest) => void,
): AsyncGenerator<TransferRecord[], ExportSummary> {
  const digest: { sha256?: string } = {};
  let manifest: Manifest | null = null;
  let space: string | null = null;
  let hash: Hash | null = null;
  let count = 0;
  let previousKey: string | null = null;
  let total = 0;
  let ended = false;
  const seen = new Set<string>();
  const spaces: Record<string, SpaceTotals> = Object.create(null) as Record<string, SpaceTotals>;
  const closeSpace = (): void => {
    if (space !== null) spaces[space] = { records: count, sha256: hash!.digest('hex') };
  };
  for await (const lines of readLines(path, digest)) {
    const batch: TransferRecord[] = [];
    for (const line of lines) {
      if (ended) throw badFile('CORRUPT', line.no, 'there is data after the trailer');
      if (manifest === null) {
        manifest = checkManifest(line);
        onManifest?.(manifest);
        continue;
      }
      // Record lines are the common case: recognised by their first field without a full parse first.
      const raw = parseLine(line);
      if (!isObject(raw)) throw badFile('CORRUPT', line.no, 'every line is a JSON object');
      if (Object.hasOwn(raw, 'k')) {
        if (space === null) throw badFile('CORRUPT', line.no, 'a record comes before any space header');
        const record = checkRecord(line, raw, space, previousKey);
        hash!.update(line.bytes);
        count++;
        total++;
        previousKey = record.key;
        batch.push(record);
      } else if (Object.hasOwn(raw, 'space')) {
        const next = checkSpace(line, raw, space, seen);
        closeSpace();
        seen.add(next);
        space = next;
        hash = createHash('sha256');
        count = 0;
        previousKey = null;
      } else if (raw.end === true) {
        closeSpace();
        space = null;
        checkTrailer(line, raw, total, spaces);
        ended = true;
      } else {
        throw badFile('CORRUPT', line.no, 'a line is neither a record, a space header nor the trailer', {
          details: { fields: Object.keys(raw).slice(0, 10) },
        });
      }
    }
    if (batch.length > 0) yield batch;
  }
  if (manifest === null) throw badFile('CORRUPT', 1, 'the file is empty');
  if (!ended) throw badFile('CORRUPT', 0, 'the trailer is missing: the file is truncated');
  return { manifest, fileSha256: digest.sha256!, records: total, spaces };
}

/** A record line known to be canonical (the file passed readExport): its fields without a full parse. */
function replayRecord(text: string, space: string, no: number): TransferRecord {
  // Inside a JSON string every '"' is escaped, so the first ',"v":' ends the key; the value has
  // strings, the tail none, so the last ',"ver":' starts the tail.
  const v = text.indexOf(',"v":', 5);
  const keyText = text.slice(5, v);
  const key = keyText.includes('\\') ? (JSON.parse(keyText) as string) : keyText.slice(1, -1);
  const tailAt = text.lastIndexOf(',"ver":');
  const [ver, c, u, x] = text
    .slice(tailAt + 1, -1)
    .split(',')
    .map((field) => field.slice(field.indexOf(':') + 1));
  return {
    space,
    key,
    value: text.slice(v + 5, tailAt),
    version: Number(ver),
    createdAt: Number(c),
    updatedAt: Number(u),
    expiresAt: x === 'null' ? null : Number(x),
    line: no,
  };
}

/**
 * The records of a file that `readExport` already accepted, read again cheaply: lines are
 * sliced rather than checked, and the file's sha256 must equal `sha256` (what was checked) or
 * the generator throws CORRUPT at its end, before its consumer can commit anything.
 */
export async function* replayExport(path: string, sha256: string): AsyncGenerator<TransferRecord[]> {
  const digest: { sha256?: string } = {};
  let space = '';
  let first = true;
  for await (const lines of readLines(path, digest)) {
    const batch: TransferRecord[] = [];
    for (const line of lines) {
      const { text } = line;
      if (first) first = false;
      else if (text.startsWith('{"k":')) batch.push(replayRecord(text, space, line.no));
      else if (text.startsWith('{"space":')) space = (JSON.parse(text) as { space: string }).space;
    }
    if (batch.length > 0) yield batch;
  }
  if (digest.sha256 !== sha256) {
    throw new StrataError('CORRUPT', 'store.import: the export file changed while it was being imported', {
      op: 'store.import',
      hint: 'nothing was imported; import it again once no other process writes it',
    });
  }
}
