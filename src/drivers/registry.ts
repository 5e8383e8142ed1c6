import { resolve } from 'node:path';
import { StrataError } from '../errors.js';
import type { Driver } from './driver.js';

export type Durability = 'full' | 'normal';

export interface DriverRequest {
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

function filePath(target: string, scheme: string): string {
  // Accept `scheme:rel/path`, `scheme:/abs/path` and `scheme:///abs/path`.
  const path = target.startsWith('//') ? target.slice(2) : target;
  if (path.length === 0) throw new StrataError('BAD_INPUT', `${scheme}: URL needs a path, e.g. ${scheme}:data/app`);
  return resolve(decodeURIComponent(path));
}

const SIZE_UNITS: Record<string, number> = { '': 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `?mmap=256MiB`, `?mmap=1GiB`, `?mmap=0` (off), or a plain byte count. */
export function parseMmap(text: string): number {
  const match = /^(\d{1,12})(kib|mib|gib)?$/i.exec(text.trim());
  if (match === null) {
    throw new StrataError('BAD_INPUT', `mmap must be a size such as 256MiB, 1GiB or 0 (off), got ${JSON.stringify(text)}`);
  }
  return Number(match[1]) * SIZE_UNITS[(match[2] ?? '').toLowerCase()]!;
}

/** URL scheme -> backend. Imports are lazy so unused backends cost nothing. */
export const DRIVERS: Record<string, Scheme> = {
  memory: { params: [], open: async () => (await import('./memory.js')).memoryDriver() },
  sqlite: {
    params: ['mmap', 'recover'],
    open: async ({ target, params, durability }) => {
      const mmap = params.get('mmap');
      const recover = params.get('recover');
      if (recover !== null && recover !== 'wal') {
        throw new StrataError('BAD_INPUT', `recover must be 'wal', got ${JSON.stringify(recover)}`);
      }
      return (await import('./sqlite.js')).sqliteDriver({
        path: target === ':memory:' ? ':memory:' : filePath(target, 'sqlite'),
        durability,
        ...(mmap === null ? {} : { mmapBytes: parseMmap(mmap) }),
        ...(recover === null ? {} : { recover }),
      });
    },
  },
  file: {
    params: [],
    open: async ({ target, durability }) =>
      (await import('./file/index.js')).fileDriver({ dir: filePath(target, 'file'), durability }),
  },
};

/** Opens the driver a store URL names: `sqlite:path/app.db`, `file:path/dir`, `memory:`. */
export async function driverFromUrl(url: string, durability: Durability): Promise<Driver> {
  if (typeof url !== 'string') throw new StrataError('BAD_INPUT', 'store url must be a string');
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/i.exec(url);
  const scheme = match?.[1]?.toLowerCase();
  const backend = scheme === undefined ? undefined : DRIVERS[scheme];
  if (match === null || backend === undefined) {
    throw new StrataError('BAD_INPUT', `unknown store url ${JSON.stringify(url)}`, {
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
    if (!known.includes(name)) {
      throw new StrataError('BAD_INPUT', `unknown parameter ${JSON.stringify(name)} in store url ${JSON.stringify(url)}`, {
        hint: `${scheme}: URLs take ${known.map((k) => `?${k}=`).join(', ')}`,
      });
    }
  }
  const fromUrl = params.get('durability');
  if (fromUrl !== null && fromUrl !== 'full' && fromUrl !== 'normal') {
    throw new StrataError('BAD_INPUT', `durability must be 'full' or 'normal', got ${JSON.stringify(fromUrl)}`);
  }
  return backend.open({
    target: q === -1 ? rest : rest.slice(0, q),
    params,
    durability: (fromUrl as Durability | null) ?? durability,
  });
}
