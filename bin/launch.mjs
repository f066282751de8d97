// Tiny launcher shared by the three binaries. It must parse and run on any Node.js (even 20), so it imports
// nothing new: the version check happens before the bundle (which uses newer builtins such as zstd in node:zlib)
// is loaded. Under an older Node it re-executes the tool with the Node.js that `npm ci` pinned into this checkout
// (node_modules/node), so a shell whose `node` is the system's older one still runs the tools after `npm link`
// or with bin/ on PATH; only when there is none does it print the "too old" line.
//
// Start-up is on every command's path, so this file loads only what the common case needs: builtins for
// re-executing are imported when that happens, a bare `--version` is answered here without loading the bundle,
// and the bundle's compiled code is cached per user (compileCacheDir).
// Builtins come through process.getBuiltinModule where there is one (Node 20.16, 22.3): an `import` of node:fs
// builds an ES module facade that reads every export, running lazy getters such as fs.promises, which loads
// fs/promises, readline and more — ~10 ms before any command code, measured, and all of a bare `--version`.
const module = process.getBuiltinModule?.('node:module') ?? (await import('node:module')).default;
const { existsSync, lstatSync, mkdirSync, readFileSync } = process.getBuiltinModule?.('node:fs') ?? (await import('node:fs'));

const MIN_MAJOR = 22;
const MIN_MINOR = 15;

function tooOld(version) {
  const [major, minor] = version.split('.').map(Number);
  return major < MIN_MAJOR || (major === MIN_MAJOR && minor < MIN_MINOR);
}

/** The pinned Node.js binary of this checkout, when it is there and executable. */
async function pinnedNode() {
  const { accessSync, constants } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const at = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  try {
    accessSync(at, constants.X_OK);
    return at;
  } catch {
    return undefined;
  }
}

/**
 * Runs `script` under `node` with this process's arguments, stdio and environment; forwards the signals a user or
 * a supervisor sends, and ends with the child's exit code (or dies of the child's signal).
 */
async function reexec(node, script) {
  const { spawn } = await import('node:child_process');
  const child = spawn(node, [script, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, SKIFF_LAUNCHED: '1' } });
  // A terminal sends SIGINT, SIGQUIT and SIGWINCH to the whole foreground process group, the child included: the
  // launcher only ignores those (as a shell does while it waits), so the child sees each once. What is sent to
  // the launcher's pid alone (a supervisor's TERM or HUP, USR1/USR2) is passed on.
  for (const s of ['SIGINT', 'SIGQUIT', 'SIGWINCH']) process.on(s, () => {});
  const forward = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
  for (const s of forward) process.on(s, () => child.kill(s));
  child.on('error', (e) => {
    process.stderr.write(`cannot run ${node}: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}

/**
 * True when `dir` is a real directory (not a symlink) owned by this user that nobody else may write to: only
 * then may compiled code be read from it (code cached there runs as this user).
 */
function privateDir(dir, uid) {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * The per-user directory for Node's module compile cache: `$XDG_CACHE_HOME/skiff/node-compile-cache` (default
 * `~/.cache`), created 0700; without a usable HOME (a service, a monitor's exit command started with a bare
 * environment) `/tmp/skiff-<uid>/node-compile-cache` (the sticky /tmp keeps others from renaming it). Undefined —
 * run without a cache — when it cannot be made or is not private (owned by someone else, writable by group or
 * others, a symlink, or its parent is not private either), when the cache base belongs to another user (sudo
 * keeping the caller's HOME: root must not plant root-owned files there), or with SKIFF_NO_COMPILE_CACHE=1.
 * Node's own NODE_COMPILE_CACHE, when set, wins (Node has enabled it before this runs).
 */
export function compileCacheDir(env = process.env, uid = process.getuid?.() ?? 0) {
  if (env.SKIFF_NO_COMPILE_CACHE === '1' || env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const xdg = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : undefined;
  const home = env.HOME?.startsWith('/') ? env.HOME : undefined;
  try {
    let parent;
    if (xdg !== undefined || (home !== undefined && lstatSync(home, { throwIfNoEntry: false }))) {
      // the directory the cache goes under (its parent when $XDG_CACHE_HOME does not exist yet) must be ours
      const anchor = xdg === undefined ? home : lstatSync(xdg, { throwIfNoEntry: false }) ? xdg : xdg.slice(0, xdg.lastIndexOf('/')) || '/';
      if (lstatSync(anchor).uid !== uid) return undefined;
      parent = `${xdg ?? `${home}/.cache`}/skiff`;
    } else {
      parent = `/tmp/skiff-${uid}`;
    }
    const dir = `${parent}/node-compile-cache`;
    if (!privateDir(dir, uid)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    // the parent too: whoever may write there can swap the cache directory for their own
    return privateDir(parent, uid) && privateDir(dir, uid) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** `<tool> version X` from package.json: what the bundle's `--version` prints, without loading the bundle. */
function printVersion(tool) {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${tool} version ${version}\n`);
}

/**
 * The bundle to load for `args`: a hot command's own bundle, dist/hot/<tool>-<command>/main.mjs (scripts/build.mjs),
 * when the command is the first argument or follows only `--root DIR` / `--root=DIR`, and that bundle exists;
 * otherwise (any other option first, help, no command, SKIFF_ALL_COMMANDS_BUNDLE=1) dist/<tool>.mjs with every command.
 * A hot bundle holds only its command, so it must never see another one: the command word is matched exactly.
 */
export function bundleFor(tool, args, env = process.env) {
  const all = new URL(`../dist/${tool}.mjs`, import.meta.url);
  if (env.SKIFF_ALL_COMMANDS_BUNDLE === '1') return all;
  const at = args[0] === '--root' ? 2 : args[0]?.startsWith('--root=') ? 1 : 0;
  const name = args[at];
  if (name === undefined || !/^[a-z][a-z-]*$/.test(name)) return all;
  const hot = new URL(`../dist/hot/${tool}-${name}/main.mjs`, import.meta.url);
  return existsSync(hot) ? hot : all;
}

/** Checks the running Node.js (re-executing with the pinned one when it is too old), then loads dist/<tool>.mjs. */
export async function launch(tool) {
  if (tooOld(process.versions.node)) {
    const node = process.env.SKIFF_LAUNCHED ? undefined : await pinnedNode();
    if (node) {
      const { fileURLToPath } = await import('node:url');
      return reexec(node, fileURLToPath(new URL(`./${tool}.mjs`, import.meta.url)));
    }
    process.stderr.write(
      `${tool}: Node.js ${process.versions.node} is too old; skiff needs Node.js ${MIN_MAJOR}.${MIN_MINOR} or newer. ` +
        `Install a newer Node.js (or run \`npm ci\` in the checkout, which pins one) and try again.\n`,
    );
    process.exit(1);
  }
  const args = process.argv.slice(2);
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) return printVersion(tool);
  if (typeof module.enableCompileCache === 'function') {
    const dir = compileCacheDir();
    if (dir !== undefined) module.enableCompileCache(dir);
  }
  await import(bundleFor(tool, args).href);
}
