// Tiny launcher shared by the three binaries. It must parse and run on any Node.js (even 20), so it imports
// nothing new: the version check happens before the bundle (which uses newer builtins such as zstd in node:zlib)
// is loaded. Under an older Node it re-executes the tool with the Node.js that `npm ci` pinned into this checkout
// (node_modules/node), so a shell whose `node` is the system's older one still runs the tools after `npm link`
// or with bin/ on PATH; only when there is none does it print the "too old" line.
import module from 'node:module';
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MIN_MAJOR = 22;
const MIN_MINOR = 15;

function tooOld(version) {
  const [major, minor] = version.split('.').map(Number);
  return major < MIN_MAJOR || (major === MIN_MAJOR && minor < MIN_MINOR);
}

/** The pinned Node.js binary of this checkout, when it is there and executable. */
function pinnedNode() {
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
function reexec(node, script) {
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

/** Checks the running Node.js (re-executing with the pinned one when it is too old), then loads dist/<tool>.mjs. */
export async function launch(tool) {
  if (tooOld(process.versions.node)) {
    const node = process.env.SKIFF_LAUNCHED ? undefined : pinnedNode();
    if (node) return reexec(node, fileURLToPath(new URL(`./${tool}.mjs`, import.meta.url)));
    process.stderr.write(
      `${tool}: Node.js ${process.versions.node} is too old; skiff needs Node.js ${MIN_MAJOR}.${MIN_MINOR} or newer. ` +
        `Install a newer Node.js (or run \`npm ci\` in the checkout, which pins one) and try again.\n`,
    );
    process.exit(1);
  }
  if (typeof module.enableCompileCache === 'function') module.enableCompileCache();
  await import(new URL(`../dist/${tool}.mjs`, import.meta.url).href);
}
