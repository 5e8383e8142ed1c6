'use strict';
// What `require('stratadb')` (or any stratadb subpath) loads: the package is ESM-only, and a
// clear error beats Node's ERR_PACKAGE_PATH_NOT_EXPORTED.
const error = new Error(
  'stratadb is ESM-only: use import / await import() (in CommonJS: const { openStore } = await import("stratadb"))',
);
error.code = 'ERR_REQUIRE_ESM';
throw error;
