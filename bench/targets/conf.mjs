// conf: one JSON file; every get reads and parses the whole file, every set rewrites it
// (atomically: temp file + fsync + rename).
import { chunks } from '../lib/data.mjs';

async function connect(dir) {
  const { default: Conf } = await import('conf');
  return new Conf({ cwd: dir, configName: 'config', projectName: 'strata-bench', projectVersion: '1.0.0' });
}

/** @type {import('./types.mjs').Target} */
export const conf = {
  id: 'conf',
  label: 'conf',
  durability: 'whole file rewritten per write (temp + fsync + rename)',
  async prefill(dir, size) {
    const store = await connect(dir);
    const all = {};
    for (const chunk of chunks(size)) for (const [k, v] of chunk) all[k] = v;
    store.store = all;
  },
  async open(dir) {
    const store = await connect(dir);
    return {
      set: (key, value) => store.set(key, value),
      get: (key) => store.get(key) ?? null,
      setMany: (entries) => store.set(Object.fromEntries(entries)),
      async readAll() {
        let n = 0;
        for (const [, value] of store) if (value !== null) n++;
        return n;
      },
      close() {},
    };
  },
};
