// Runs a TypeScript entry point (a benchmark, a test worker) by bundling it with esbuild into a temp file
// first, so any TypeScript syntax works on any supported Node. Usage: node scripts/run-ts.mjs FILE.ts [args…]
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run-ts.mjs FILE.ts [args…]\n');
  process.exit(2);
}
// Inside node_modules so the bundle's external packages resolve from the project.
const cache = new URL('../node_modules/.cache/', import.meta.url).pathname;
mkdirSync(cache, { recursive: true });
const dir = mkdtempSync(join(cache, 'run-ts-'));
const out = join(dir, 'entry.mjs');
await build({
  entryPoints: [resolve(entry)],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  logLevel: 'warning',
  packages: 'external',
  define: { 'import.meta.dirname': JSON.stringify(resolve(entry, '..')) },
});
// benchmarks drive the peers with the tests' configuration, never the machine's /etc/containers
process.env.CONTAINERS_CONF ??= new URL('../test/fixtures/containers.conf', import.meta.url).pathname;
process.argv = [process.argv[0], resolve(entry), ...args];
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
await import(pathToFileURL(out).href);
