// Preloaded with `node --import` by tests: prints the path of every file the process opens through
// `fs/promises` open() or readFile() to stderr as `OPENED <path>`, so a test can count how often a command reads
// a store file (the builtin's ESM bindings are re-synced, so bundles importing `node:fs/promises` see the wrappers).
import fsp from 'node:fs/promises';
import module from 'node:module';

for (const name of ['open', 'readFile']) {
  const orig = fsp[name];
  fsp[name] = function (path, ...rest) {
    if (typeof path === 'string') process.stderr.write(`OPENED ${path}\n`);
    return orig.call(this, path, ...rest);
  };
}
module.syncBuiltinESMExports();
