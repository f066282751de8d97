// Bundles each tool into dist/<tool>.mjs with esbuild: one file per tool, dependencies inlined,
// so start-up reads one module. Run by `npm run build` and by npm's `prepare` after install.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const tools = ['build-tool', 'copy-tool', 'run-tool'];

await build({
  entryPoints: Object.fromEntries(tools.map((t) => [t, `${t}/main.ts`])),
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  // Shared code and lazily imported modules (registry client, OpenPGP, …) go into chunks that load only when a
  // command needs them, so start-up reads little.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node22',
  sourcemap: false,
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
  define: { SKIFF_VERSION: JSON.stringify(pkg.version) },
  // Bundled CommonJS dependencies call require() for builtins; give the ESM bundle one.
  banner: { js: "import { createRequire as __skiffCreateRequire } from 'node:module'; const require = __skiffCreateRequire(import.meta.url);" },
});

// Man pages, one per command, from the command tables the bundles just built register (dist/man/*.1).
// A tool that cannot run here (no user namespace for an ordinary user, say) gets no pages and a warning.
const { spawnSync } = await import('node:child_process');
const { rmSync } = await import('node:fs');
rmSync('dist/man', { recursive: true, force: true });
for (const t of tools) {
  const r = spawnSync(process.execPath, [`dist/${t}.mjs`, 'generate-man-pages', 'dist/man'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) process.stderr.write(`warning: no man pages for ${t}: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}\n`);
}
