// Peer libraries live in bench/package.json with their own lockfile, so the main install and
// CI stay lean; the first `npm run bench` installs them (native modules compile: ~3-5 min).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = fileURLToPath(new URL('..', import.meta.url));
/** Peer packages per target; Strata and raw better-sqlite3 also run on the repository's own install. */
const PEERS = {
  keyv: ['sqlite3', 'keyv', '@keyv/sqlite'],
  lowdb: ['lowdb'],
  conf: ['conf'],
  'node-persist': ['node-persist'],
  unstorage: ['unstorage'],
};
const ROOT = join(BENCH, '..');

function installed(name) {
  return (
    existsSync(join(BENCH, 'node_modules', name, 'package.json')) || existsSync(join(ROOT, 'node_modules', name, 'package.json'))
  );
}

function missing(only) {
  const wanted = Object.entries(PEERS)
    .filter(([id]) => !only || only.includes(id))
    .flatMap(([, names]) => names);
  return ['better-sqlite3', ...wanted].filter((name) => !installed(name));
}

/**
 * Installs bench/node_modules from bench/package-lock.json when a peer of a selected target
 * is missing (`--only strata-sqlite,raw-sqlite` needs none beyond the main install).
 */
export function ensureDeps(log, only) {
  const absent = missing(only);
  if (absent.length === 0) return;
  log(`bench: installing peer libraries (${absent.join(', ')} missing): npm ci --prefix bench ...`);
  const res = spawnSync('npm', ['ci', '--prefix', BENCH, '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (res.status !== 0) throw new Error('npm ci --prefix bench failed; see the output above');
  const still = missing(only);
  if (still.length > 0) throw new Error(`still missing after npm ci: ${still.join(', ')}`);
}

/** Loads each native module once; returns the ids of targets that cannot run and why. */
export function nativeProblems() {
  const require = createRequire(`${BENCH}package.json`);
  const problems = {};
  try {
    new (require('better-sqlite3'))(':memory:').close();
  } catch (error) {
    problems['raw-sqlite'] = `better-sqlite3 did not load: ${error.message}`;
  }
  try {
    require('sqlite3');
  } catch (error) {
    problems.keyv = `sqlite3 (needed by @keyv/sqlite) did not load: ${error.message}`;
  }
  return problems;
}
