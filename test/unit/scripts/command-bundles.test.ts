import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
// @ts-expect-error: a build script in plain JavaScript, no declarations
import { HOT_COMMANDS, commandTable, deferMain, removeStaleOutputs } from '../../../scripts/command-bundles.mjs';

const repo = resolve(import.meta.dirname, '../../..');

describe('removeStaleOutputs', () => {
  it('removes chunks and hot bundles an earlier build left and keeps what this build wrote and dist/man', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-dist-'));
    try {
      const files = ['run-tool.mjs', 'old-tool.mjs', 'chunks/a-1.mjs', 'chunks/a-0.mjs', 'hot/run-tool-run/main.mjs', 'hot/run-tool-gone/main.mjs', 'hot/run-tool-run/x-9.mjs', 'man/run-tool.1'];
      for (const f of files) {
        mkdirSync(join(dir, f, '..'), { recursive: true });
        writeFileSync(join(dir, f), '');
      }
      removeStaleOutputs(dir, [join(dir, 'run-tool.mjs'), join(dir, 'chunks/a-1.mjs'), join(dir, 'hot/run-tool-run/main.mjs')]);
      expect(files.filter((f) => existsSync(join(dir, f)))).toEqual(['run-tool.mjs', 'chunks/a-1.mjs', 'hot/run-tool-run/main.mjs', 'man/run-tool.1']);
      expect(existsSync(join(dir, 'hot/run-tool-gone'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('commandTable', () => {
  it('finds each entry of a main.ts command table with its names and imports, and the imports outside it', () => {
    const src = [
      "const a = await import('./outside.ts');",
      'const commands: CommandModule[] = [',
      "  { names: ['run'], load: async () => (await import('./run.ts')).add },",
      '  {',
      "    names: ['system', 'prune'],",
      "    load: async () => Promise.all([import('./p.ts'), import('./q.ts')]),",
      '  },',
      '];',
      "const b = await import('./after.ts');",
    ].join('\n');
    const t = commandTable(src);
    expect(t.entries).toEqual([
      { names: ['run'], specifiers: ['./run.ts'] },
      { names: ['system', 'prune'], specifiers: ['./p.ts', './q.ts'] },
    ]);
    expect([...t.outside]).toEqual(['./outside.ts', './after.ts']);
  });

  it('every hot command is named by an entry of its tool’s table', () => {
    for (const [tool, commands] of Object.entries(HOT_COMMANDS as Record<string, string[]>)) {
      const { entries } = commandTable(readFileSync(join(repo, tool, 'main.ts'), 'utf8'));
      for (const c of commands) expect(entries.some((e: { names: string[] }) => e.names.includes(c)), `${tool} ${c}`).toBe(true);
    }
  });
});

describe('deferMain', () => {
  it('keeps the leading imports and comments at top level and moves every statement into __skiffMain', () => {
    const src = ['// a tool', "import { a } from './a.ts';", '', "import { b, type B } from './b.ts';", 'await a();', "const args = process.argv.slice(2);", 'await b(args);'].join('\n');
    const out: string = deferMain(src);
    expect(out.split('\n')).toEqual(['// a tool', "import { a } from './a.ts';", '', "import { b, type B } from './b.ts';", 'export async function __skiffMain() {', 'await a();', 'const args = process.argv.slice(2);', 'await b(args);', '}', '']);
  });

  it('every tool main.ts has statements after its imports to defer', () => {
    for (const tool of ['run-tool', 'copy-tool', 'build-tool']) expect(deferMain(readFileSync(join(repo, tool, 'main.ts'), 'utf8'))).toContain('export async function __skiffMain() {\n');
  });
});
