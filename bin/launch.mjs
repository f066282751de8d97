// Tiny launcher shared by the three binaries. It must parse and run on any Node.js (even 20),
// so it imports nothing new: the version check happens before the bundle (which uses newer
// builtins such as zstd in node:zlib) is loaded.
import module from 'node:module';

const MIN_MAJOR = 22;
const MIN_MINOR = 15;

/** Checks the running Node.js, enables the compile cache, then loads dist/<tool>.mjs. */
export async function launch(tool) {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < MIN_MAJOR || (major === MIN_MAJOR && minor < MIN_MINOR)) {
    process.stderr.write(
      `${tool}: Node.js ${process.versions.node} is too old; skiff needs Node.js ${MIN_MAJOR}.${MIN_MINOR} or newer. ` +
        `Install a newer Node.js (or run through npm, which uses the pinned one) and try again.\n`,
    );
    process.exit(1);
  }
  if (typeof module.enableCompileCache === 'function') module.enableCompileCache();
  await import(new URL(`../dist/${tool}.mjs`, import.meta.url).href);
}
