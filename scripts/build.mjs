// Bundles each tool with esbuild into dist/<tool>.mjs plus the chunks its commands load lazily (dist/chunks), and,
// for each hot command (the ones on the everyday and benchmarked paths), a bundle of its own in
// dist/hot/<tool>-<command>/ that holds that command's whole start-up graph in one file (command-bundles.mjs),
// and a V8 start-up snapshot of each hot command in dist/snapshot/<node version>/ (startup-snapshot.mjs).
// Files a previous build wrote and this one did not are removed. Run by `npm run build` and by npm's `prepare`.
// Usage: node scripts/build.mjs [--outdir DIR]   (default dist; the launchers load dist)
import { build } from 'esbuild';
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HOT_COMMANDS, onlyCommandPlugin, removeStaleOutputs } from './command-bundles.mjs';
import { WITHOUT_SNAPSHOT, buildStartupSnapshot, writeSnapshotNode } from './startup-snapshot.mjs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const tools = ['build-tool', 'copy-tool', 'run-tool'];
const out = parseArgs({ options: { outdir: { type: 'string', default: 'dist' } } }).values.outdir;

/** What every build shares. */
const common = {
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  sourcemap: false,
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  define: { SKIFF_VERSION: JSON.stringify(pkg.version) },
  // Bundled CommonJS dependencies call require() for builtins; give the ESM bundle one.
  banner: { js: "import { createRequire as __skiffCreateRequire } from 'node:module'; const require = __skiffCreateRequire(import.meta.url);" },
};

const results = await Promise.all([
  // Every command: shared code and lazily imported modules (registry client, OpenPGP, …) go into chunks that load
  // only when a command needs them.
  build({ ...common, entryPoints: Object.fromEntries(tools.map((t) => [t, `${t}/main.ts`])), outdir: out, chunkNames: 'chunks/[name]-[hash]' }),
  // One hot command each: its main.ts with the other commands left out, so what the command loads at start-up is
  // one file; what it imports lazily still comes in chunks of its own.
  ...Object.entries(HOT_COMMANDS).flatMap(([tool, commands]) =>
    commands.map((command) =>
      build({
        ...common,
        entryPoints: { main: `${tool}/main.ts` },
        outdir: `${out}/hot/${tool}-${command}`,
        chunkNames: '[name]-[hash]',
        plugins: [onlyCommandPlugin(tool, command)],
      }),
    ),
  ),
]);
removeStaleOutputs(out, results.flatMap((r) => Object.keys(r.metafile.outputs)));

// V8 start-up snapshots of the hot commands (startup-snapshot.mjs), for the Node.js running this build: the old
// ones go first, so a failed step leaves no blob older than the bundles. A command whose start-up modules V8
// cannot serialize (or that read process state while loading) gets no blob and a warning (none for those listed
// in WITHOUT_SNAPSHOT); its bin falls back.
// SKIFF_NO_SNAPSHOT=1 builds none.
rmSync(`${out}/snapshot`, { recursive: true, force: true });
if (process.env.SKIFF_NO_SNAPSHOT !== '1') {
  const node = realpathSync(process.execPath);
  const nodeVersion = process.version;
  const dir = `${out}/snapshot/${nodeVersion}`;
  const built = await Promise.allSettled(
    Object.entries(HOT_COMMANDS).flatMap(([tool, commands]) =>
      commands.filter((command) => !WITHOUT_SNAPSHOT.has(`${tool} ${command}`)).map((command) => buildStartupSnapshot({ node, tool, command, dir, version: pkg.version })),
    ),
  );
  for (const r of built) if (r.status === 'rejected') process.stderr.write(`warning: ${r.reason.message}\n`);
  if (built.some((r) => r.status === 'fulfilled')) writeSnapshotNode(`${out}/snapshot`, node, nodeVersion);
}

// Man pages, one per command, from the command tables the bundles just built register (dist/man/*.1).
// A tool that cannot run here (no user namespace for an ordinary user, say) gets no pages and a warning.
const { spawnSync } = await import('node:child_process');
rmSync(`${out}/man`, { recursive: true, force: true });
for (const t of tools) {
  const r = spawnSync(process.execPath, [`${out}/${t}.mjs`, 'generate-man-pages', `${out}/man`], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) process.stderr.write(`warning: no man pages for ${t}: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}\n`);
}
