// Preloaded with `node --import` by tests: prints every module URL the process loads to stderr as
// `LOADED <url>`, so a test can check what a command pulls in at start-up.
import module from 'node:module';

module.registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith('file:')) process.stderr.write(`LOADED ${url}\n`);
    return nextLoad(url, context);
  },
});
