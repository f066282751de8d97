// Build helpers for the per-command bundles (scripts/build.mjs) and for removing what an earlier build left.
import { readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The commands that get a bundle of their own (dist/hot/<tool>-<command>/main.mjs), per tool: the everyday and
 * benchmarked paths. bin/launch.mjs loads one when the command is the first argument (after `--root DIR` at most);
 * everything else loads dist/<tool>.mjs.
 */
export const HOT_COMMANDS = {
  'build-tool': ['build'],
  'copy-tool': ['copy', 'inspect'],
  'run-tool': ['run', 'create', 'start', 'stop', 'rm', 'ps', 'inspect', 'container-cleanup', 'pod'],
};

/**
 * The module specifiers main.ts's command table (`const commands … = [ … ];`) imports, grouped by entry: each
 * `names: [ … ]` with the `import('…')` specifiers that follow it up to the next entry. Also the specifiers main.ts
 * imports outside the table (those every bundle keeps).
 */
export function commandTable(source) {
  const start = source.search(/^const commands\b.*= \[$/m);
  const end = start < 0 ? -1 : source.indexOf('\n];', start);
  if (start < 0 || end < 0) throw new Error('main.ts: no `const commands … = [` … `];` command table found');
  const table = source.slice(start, end);
  const specifiers = (text) => [...text.matchAll(/import\('([^']+)'\)/g)].map((m) => m[1]);
  const heads = [...table.matchAll(/names: \[([^\]]*)\]/g)];
  const entries = heads.map((m, i) => ({
    names: [...m[1].matchAll(/'([^']+)'/g)].map((n) => n[1]),
    specifiers: specifiers(table.slice(m.index, heads[i + 1]?.index ?? table.length)),
  }));
  return { entries, outside: new Set(specifiers(source.slice(0, start) + source.slice(end))) };
}

/**
 * `source` (a main.ts) with everything after its leading imports and comments moved into
 * `export async function __skiffMain() { … }`: evaluating the module then runs no command and reads no argv or
 * environment, so its module graph can be evaluated ahead of time (a V8 start-up snapshot, bench/start.ts) and
 * the command started later by calling __skiffMain.
 */
export function deferMain(source) {
  const lines = source.split('\n');
  const at = lines.findIndex((l) => !/^import .*;$/.test(l) && !/^\s*(\/\/.*)?$/.test(l));
  if (at < 0) throw new Error('main.ts: no statements after the imports');
  return [...lines.slice(0, at), 'export async function __skiffMain() {', ...lines.slice(at), '}', ''].join('\n');
}

/**
 * An esbuild plugin for the bundle of one command: the dynamic imports in `<tool>/main.ts`'s command table that
 * belong only to other commands resolve to a module that throws if it is ever loaded (the launcher loads this
 * bundle only for `command`, and registerCommands loads only the modules naming it), so they add nothing.
 * With `deferred`, main.ts's statements run only when its `__skiffMain` export is called (deferMain).
 */
export function onlyCommandPlugin(tool, command, { deferred = false } = {}) {
  const main = resolve(`${tool}/main.ts`);
  const { entries, outside } = commandTable(readFileSync(main, 'utf8'));
  const mine = entries.filter((e) => e.names.includes(command));
  if (mine.length === 0) throw new Error(`${tool}/main.ts: no command table entry names \`${command}\``);
  const keep = new Set([...outside, ...mine.flatMap((e) => e.specifiers)]);
  const other = new Set(entries.flatMap((e) => e.specifiers).filter((s) => !keep.has(s)));
  return {
    name: 'skiff-only-command',
    setup(b) {
      // what this command loads at start-up anyway is imported statically, so it lands in the entry file
      b.onLoad({ filter: /\/main\.ts$/ }, (args) => {
        if (args.path !== main) return undefined;
        const statics = [];
        const contents = readFileSync(main, 'utf8').replace(/import\('([^']+)'\)/g, (all, spec) => {
          if (!keep.has(spec)) return all;
          const at = statics.indexOf(spec) < 0 ? statics.push(spec) - 1 : statics.indexOf(spec);
          return `Promise.resolve(__skiffStartup${at})`;
        });
        const body = statics.map((s, i) => `import * as __skiffStartup${i} from '${s}';\n`).join('') + contents;
        return { contents: deferred ? deferMain(body) : body, loader: 'ts', resolveDir: resolve(tool) };
      });
      b.onResolve({ filter: /^\./ }, (args) =>
        args.kind === 'dynamic-import' && args.importer === main && other.has(args.path) ? { path: args.path, namespace: 'skiff-other-command' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'skiff-other-command' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`this bundle holds only \`${tool} ${command}\`; ${args.path} is in dist/${tool}.mjs`)});`,
        loader: 'js',
      }));
    },
  };
}

/**
 * Removes the files under `dir`'s chunks/ and hot/ folders and its top-level .mjs files that are not among
 * `outputs` (paths as esbuild's metafile gives them, relative to the working directory), and the folders that
 * leaves empty: a rebuild leaves no stale chunk or bundle behind. Anything else in `dir` (man/) is not touched.
 */
export function removeStaleOutputs(dir, outputs) {
  const wanted = new Set(outputs.map((o) => resolve(o)));
  const sweep = (at) => {
    let entries;
    try {
      entries = readdirSync(at, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(at, e.name);
      if (e.isDirectory()) {
        sweep(p);
        try {
          rmdirSync(p);
        } catch {
          /* not empty */
        }
      } else if (!wanted.has(resolve(p))) {
        rmSync(p, { force: true });
      }
    }
  };
  sweep(join(dir, 'chunks'));
  sweep(join(dir, 'hot'));
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.mjs') && !wanted.has(resolve(dir, e.name))) rmSync(join(dir, e.name), { force: true });
  }
}
