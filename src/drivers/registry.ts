import { StrataError } from '../errors.js';
import { parseDuration } from '../codec/duration.js';
import { storePath } from '../paths.js';
import { redactUrl } from '../redact-url.js';
import type { Driver } from './driver.js';

export type Durability = 'full' | 'normal';

export interface DriverRequest {
  /** The whole URL, for messages. */
  url: string;
  /** What follows `scheme:` (a path for sqlite and file), with any `?query` removed. */
  target: string;
  params: URLSearchParams;
  durability: Durability;
}

interface Scheme {
  /** URL parameters this backend understands besides `durability`; any other is a typo. */
  params: readonly string[];
  open(request: DriverRequest): Promise<Driver>;
}

const SIZE_UNITS: Record<string, number> = { '': 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `?mmap=256MiB`, `?mmap=1GiB`, `?mmap=0` (off), or a plain byte count. */
export function parseMmap(text: string): number {
  const match = /^(\d{1,12})(kib|mib|gib)?$/i.exec(text.trim());
  if (match === null) {
    throw new StrataError('BAD_INPUT', `mmap must be a size such as 256MiB, 1GiB or 0 (off), got ${JSON.stringify(text)}`, {
      hint: 'use ?mmap=256MiB, ?mmap=0 to turn it off, or leave the parameter out',
    });
  }
  return Number(match[1]) * SIZE_UNITS[(match[2] ?? '').toLowerCase()]!;
}

/** `?busyTimeout=30s`, `?lockTimeout=60000`: a duration in ms or with a unit; 0 fails at once. */
export function parseTimeout(text: string, name: string): number {
  if (text.trim() === '0') return 0;
  return parseDuration(/^\d+$/.test(text.trim()) ? Number(text) : text, `?${name}=`);
}

/** `?name=` as a timeout, when present. */
function timeoutParam(params: URLSearchParams, name: string): number | undefined {
  const text = params.get(name);
  return text === null ? undefined : parseTimeout(text, name);
}

/** URL scheme -> backend. Imports are lazy so unused backends cost nothing. */
export const DRIVERS: Record<string, Scheme> = {
  memory: { params: [], open: async () => (await import('./memory.js')).memoryDriver() },
  sqlite: {
    params: ['mmap', 'busyTimeout', 'recover'],
    open: async ({ url, target, params, durability }) => {
      const mmap = params.get('mmap');
      const busyTimeoutMs = timeoutParam(params, 'busyTimeout');
      const recover = params.get('recover');
      if (recover !== null && recover !== 'wal') {
        throw new StrataError('BAD_INPUT', `recover must be 'wal', got ${JSON.stringify(recover)}`, {
          hint: 'use ?recover=wal, or leave the parameter out',
        });
      }
      return (await import('./sqlite.js')).sqliteDriver({
        path: target === ':memory:' ? ':memory:' : storePath(url, 'sqlite', target, 'file'),
        durability,
        ...(mmap === null ? {} : { mmapBytes: parseMmap(mmap) }),
        ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }),
        ...(recover === null ? {} : { recover: 'wal' as const }),
      });
    },
  },
  file: {
    params: ['lockTimeout'],
    open: async ({ url, target, params, durability }) => {
      const lockTimeoutMs = timeoutParam(params, 'lockTimeout');
      return (await import('./file/index.js')).fileDriver({
        dir: storePath(url, 'file', target, 'directory'),
        durability,
        ...(lockTimeoutMs === undefined ? {} : { lockTimeoutMs }),
      });
    },
  },
};

interface ParsedUrl {
  scheme: string;
  backend: Scheme;
  target: string;
  params: URLSearchParams;
}

function parseUrl(url: unknown): ParsedUrl {
  if (typeof url !== 'string') {
    throw new StrataError('BAD_INPUT', 'store url must be a string', {
      hint: `use one of ${Object.keys(DRIVERS)
        .map((s) => `${s}:`)
        .join(', ')}, e.g. sqlite:data/app.db`,
    });
  }
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/is.exec(url);
  const scheme = match?.[1]?.toLowerCase();
  const backend = scheme === undefined ? undefined : DRIVERS[scheme];
  if (match === null || scheme === undefined || backend === undefined) {
    throw new StrataError('BAD_INPUT', `unknown store url ${JSON.stringify(redactUrl(url))}`, {
      hint: `use one of ${Object.keys(DRIVERS)
        .map((s) => `${s}:`)
        .join(', ')}`,
    });
  }
  const rest = match[2]!;
  const q = rest.indexOf('?');
  const params = new URLSearchParams(q === -1 ? '' : rest.slice(q + 1));
  const known = ['durability', ...backend.params];
  for (const name of new Set(params.keys())) {
    // One value each: with two, which one holds would be a guess (`durability=normal&durability=full`).
    if (params.getAll(name).length > 1) {
      throw new StrataError(
        'BAD_INPUT',
        `parameter ${JSON.stringify(name)} is given more than once in store url ${JSON.stringify(redactUrl(url))}`,
        {
          hint: `give ?${name}= once`,
        },
      );
    }
    if (!known.includes(name)) {
      throw new StrataError(
        'BAD_INPUT',
        `unknown parameter ${JSON.stringify(name)} in store url ${JSON.stringify(redactUrl(url))}`,
        {
          hint: `${scheme}: URLs take ${known.map((k) => `?${k}=`).join(', ')}`,
        },
      );
    }
  }
  return { scheme, backend, target: q === -1 ? rest : rest.slice(0, q), params };
}

/**
 * The file (`sqlite:`) or directory (`file:`) a store URL names, checked as the driver will
 * check it (BAD_INPUT for a path it would refuse); null for stores with no local path.
 */
export function storeLocation(url: string): string | null {
  const { scheme, target } = parseUrl(url);
  if (scheme === 'sqlite' && target !== ':memory:') return storePath(url, scheme, target, 'file');
  if (scheme === 'file') return storePath(url, scheme, target, 'directory');
  return null;
}

/** Opens the driver a store URL names: `sqlite:path/app.db`, `file:path/dir`, `memory:`. */
export async function driverFromUrl(url: string, durability: Durability): Promise<Driver> {
  const { backend, target, params } = parseUrl(url);
  const fromUrl = params.get('durability');
  if (fromUrl !== null && fromUrl !== 'full' && fromUrl !== 'normal') {
    throw new StrataError('BAD_INPUT', `durability must be 'full' or 'normal', got ${JSON.stringify(fromUrl)}`, {
      hint: 'use ?durability=full or ?durability=normal, or leave the parameter out',
    });
  }
  return backend.open({
    url,
    target,
    params,
    durability: (fromUrl as Durability | null) ?? durability,
  });
}
