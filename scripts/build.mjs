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
