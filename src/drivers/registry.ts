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

type Factory = (request: DriverRequest) => Promise<Driver>;

function filePath(target: string, scheme: string): string {
  // Accept `scheme:rel/path`, `scheme:/abs/path` and `scheme:///abs/path`.
  const path = target.startsWith('//') ? target.slice(2) : target;
  if (path.length === 0) throw new StrataError('BAD_INPUT', `${scheme}: URL needs a path, e.g. ${scheme}:data/app`);
  return resolve(decodeURIComponent(path));
}

/** URL scheme -> driver factory. Imports are lazy so unused backends cost nothing. */
export const DRIVERS: Record<string, Factory> = {
  memory: async () => (await import('./memory.js')).memoryDriver(),
  sqlite: async ({ target, durability }) =>
    (await import('./sqlite.js')).sqliteDriver({
      path: target === ':memory:' ? ':memory:' : filePath(target, 'sqlite'),
      durability,
    }),
  file: async ({ target, durability }) =>
    (await import('./file/index.js')).fileDriver({ dir: filePath(target, 'file'), durability }),
};

/** Opens the driver a store URL names: `sqlite:path/app.db`, `file:path/dir`, `memory:`. */
export async function driverFromUrl(url: string, durability: Durability): Promise<Driver> {
  if (typeof url !== 'string') throw new StrataError('BAD_INPUT', 'store url must be a string');
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/i.exec(url);
  const scheme = match?.[1]?.toLowerCase();
  const factory = scheme === undefined ? undefined : DRIVERS[scheme];
  if (match === null || factory === undefined) {
    throw new StrataError('BAD_INPUT', `unknown store url ${JSON.stringify(url)}`, {
      hint: `use one of ${Object.keys(DRIVERS)
        .map((s) => `${s}:`)
        .join(', ')}`,
    });
  }
  const rest = match[2]!;
  const q = rest.indexOf('?');
  const params = new URLSearchParams(q === -1 ? '' : rest.slice(q + 1));
  const fromUrl = params.get('durability');
  if (fromUrl !== null && fromUrl !== 'full' && fromUrl !== 'normal') {
    throw new StrataError('BAD_INPUT', `durability must be 'full' or 'normal', got ${JSON.stringify(fromUrl)}`);
  }
  return factory({
    target: q === -1 ? rest : rest.slice(0, q),
    params,
    durability: (fromUrl as Durability | null) ?? durability,
  });
}
