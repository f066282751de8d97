// V8 start-up snapshots of the hot commands (issue 19): a hot command's bundle as one CommonJS script whose
// main.ts statements run only when the snapshot is entered (command-bundles.mjs deferMain), evaluated once by
// `node --build-snapshot` into dist/snapshot/<node version>/<tool>-<command>.blob. bin/<tool>.mjs, executed
// directly, starts `node --snapshot-blob BLOB -- ARGS` when the blob is there and current (bin/snapshot-start.sh);
// `node bin/<tool>.mjs` and every other case load the ES-module bundles as before.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, resolve } from 'node:path';
import { onlyCommandPlugin } from './command-bundles.mjs';

/**
 * Hot commands built without a snapshot, and why: `node --build-snapshot` fails on them (the build would warn
 * on every run). Such a command starts from its ES-module bundle as before.
 */
export const WITHOUT_SNAPSHOT = new Map([['copy-tool inspect', 'its start-up modules hold a native reference V8 cannot serialize ("Unknown external reference")']]);

/** The file (under dist/snapshot) that names the Node.js binary the blobs were built with and its version. */
export const SNAPSHOT_NODE_FILE = 'node';

/**
 * Builtins and process state a start-up module must not read while it is evaluated: in a snapshot that happens
 * once, at build time, as whoever built it, so a value kept from then would be the builder's (root's uid, the
 * build's argv, environment, working directory, umask, terminal).
 */
const LOAD_TIME_GUARD = `
const reads = new Map();
// what was read, and where (the first frame outside this guard: a line of the .cjs bundle)
// (Node's own reads — printing a warning reads process.pid and stderr — are not the modules' and are left out)
const note = (label) => {
  const at = (new Error().stack ?? '').split('\\n')[3]?.trim() ?? '';
  if (!reads.has(label) && !/\\(node:|at node:/.test(at)) reads.set(label, at);
};
const saved = [];
const watch = (obj, name, label) => {
  const d = Object.getOwnPropertyDescriptor(obj, name);
  if (!d) return;
  saved.push([obj, name, d]);
  const value = d.get ? d.get.bind(obj) : () => d.value;
  Object.defineProperty(obj, name, { configurable: true, enumerable: d.enumerable, get() { note(label); return value(); }, set(v) { note(label); Object.defineProperty(obj, name, { ...d, value: v }); } });
};
const env = process.env;
saved.push([process, 'env', Object.getOwnPropertyDescriptor(process, 'env')]);
Object.defineProperty(process, 'env', { configurable: true, enumerable: true, get() { return new Proxy(env, { get(t, k) { if (typeof k === 'string') note('process.env.' + k); return Reflect.get(t, k); }, has(t, k) { note('process.env'); return Reflect.has(t, k); }, ownKeys(t) { note('process.env'); return Reflect.ownKeys(t); } }); } });
for (const n of ['argv', 'argv0', 'execArgv', 'stdin', 'stdout', 'stderr', 'cwd', 'umask', 'getuid', 'geteuid', 'getgid', 'getegid', 'getgroups', 'pid', 'ppid']) watch(process, n, 'process.' + n);
const tty = require('node:tty');
watch(tty, 'isatty', 'tty.isatty');
const os = require('node:os');
for (const n of ['userInfo', 'homedir', 'tmpdir', 'hostname']) watch(os, n, 'os.' + n);
globalThis.__skiffLoadTimeReads = () => {
  for (const [obj, name, d] of saved.reverse()) Object.defineProperty(obj, name, d);
  return [...reads].map(([label, at]) => label + " (" + at + ")");
};
`;

/**
 * The snapshot's entry: the load-time guard, then main.ts (deferred) and the command's start-up modules; at build
 * time it fails when a start-up module read process state while it was evaluated. When the snapshot is entered
 * the main function puts back what `node bin/<tool>.mjs ARGS` would have — argv[1] is the tool's script (found
 * from the blob's own path), and the --snapshot-blob flag is dropped from execArgv so that a process re-executing
 * itself (rootless namespace entry, conmon's cleanup command) starts the ordinary way — and runs the command.
 */
function entrySource(tool, main, key) {
  return `import './load-time-guard.cjs';
import { startupSnapshot } from 'node:v8';
import { __skiffMain } from ${JSON.stringify(main)};
const reads = globalThis.__skiffLoadTimeReads();
delete globalThis.__skiffLoadTimeReads;
if (reads.length > 0) throw new Error('start-up modules read process state while loading (read it when the command runs): ' + reads.join(', '));
startupSnapshot.setDeserializeMainFunction(() => {
  const at = process.execArgv.indexOf('--snapshot-blob');
  const blob = at < 0 ? undefined : process.execArgv[at + 1];
  if (blob === undefined || process.version !== ${JSON.stringify(key.node)}) {
    process.stderr.write(${JSON.stringify(`${tool}: this start-up snapshot is entered only through bin/${tool}.mjs; run that instead\n`)});
    process.exit(125);
  }
  process.execArgv.splice(at, 2);
  const { resolve } = require('node:path');
  process.argv.splice(1, 0, resolve(blob, '../../../../bin/${tool}.mjs'));
  void __skiffMain();
});
`;
}

/**
 * Builds the snapshot of `tool command` with the Node.js binary `node` (a blob loads only into the Node that built
 * it) into `dir` (dist/snapshot/<node version>): `<tool>-<command>.cjs`, the bundle, and `<tool>-<command>.blob`.
 * `lazyImports: 'left out'` leaves dynamic imports unbundled (they then fail when the command reaches one: for
 * measuring only, bench/start.ts). Must run with the repository as the working directory. Throws with Node's
 * message when V8 cannot serialize what the modules hold (a native handle made at load time).
 */
export async function buildStartupSnapshot({ node, tool, command, dir, version, lazyImports = 'bundled' }) {
  mkdirSync(dir, { recursive: true });
  const name = `${tool}-${command}${lazyImports === 'bundled' ? '' : '-startup-only'}`;
  const bundle = join(dir, `${name}.cjs`);
  const blob = join(dir, `${name}.blob`);
  const nodeVersion = nodeVersionOf(node);
  const guard = { name: 'skiff-snapshot-entry', setup(b) {
    b.onResolve({ filter: /^skiff-snapshot-entry$/ }, () => ({ path: 'entry', namespace: 'skiff-snapshot' }));
    b.onResolve({ filter: /^\.\/load-time-guard\.cjs$/ }, () => ({ path: 'guard', namespace: 'skiff-snapshot' }));
    b.onLoad({ filter: /^entry$/, namespace: 'skiff-snapshot' }, () => ({ contents: entrySource(tool, resolve(`${tool}/main.ts`), { node: nodeVersion }), loader: 'js', resolveDir: resolve(tool) }));
    b.onLoad({ filter: /^guard$/, namespace: 'skiff-snapshot' }, () => ({ contents: LOAD_TIME_GUARD, loader: 'js' }));
    // a script in a snapshot has no dynamic import(): a builtin imported lazily becomes a require()
    b.onResolve({ filter: /.*/ }, (args) => (args.kind === 'dynamic-import' && isBuiltin(args.path) ? { path: args.path, namespace: 'skiff-builtin' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'skiff-builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
    if (lazyImports !== 'bundled') b.onResolve({ filter: /.*/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined));
  } };
  await build({
    entryPoints: ['skiff-snapshot-entry'],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    minify: true,
    legalComments: 'none',
    logLevel: 'error',
    define: { SKIFF_VERSION: JSON.stringify(version) },
    plugins: [guard, onlyCommandPlugin(tool, command, { deferred: true })],
  });
  const r = spawnSync(node, ['--snapshot-blob', blob, '--build-snapshot', bundle], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(bundle, { force: true });
    rmSync(blob, { force: true });
    const lines = r.stderr.split('\n');
    const why = lines.filter((l) => /^\w*Error\b|^Unknown external reference|CheckGlobalAndEternalHandles/.test(l));
    throw new Error(`no start-up snapshot for ${tool} ${command}: ${why.slice(0, 3).join(' ').slice(0, 400)}`);
  }
  return { blob, bundle, blobBytes: statSync(blob).size, bundleBytes: statSync(bundle).size };
}

/**
 * Records which Node.js built the blobs of `root` (dist/snapshot): its version and absolute path, one line (the
 * path last, so that `read -r v n` keeps one with spaces whole), which bin/snapshot-start.sh reads to find the blob
 * directory and the binary to start. Written after every blob, so a bin never starts a blob still being written.
 */
export function writeSnapshotNode(root, node, version) {
  writeFileSync(join(root, SNAPSHOT_NODE_FILE), `${version} ${node}\n`);
}

/** The version string of the Node.js binary at `node` (`v24.11.0`). */
export function nodeVersionOf(node) {
  return spawnSync(node, ['-p', 'process.version'], { encoding: 'utf8' }).stdout.trim();
}
