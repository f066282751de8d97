import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const TOOLS = ['build-tool', 'copy-tool', 'run-tool'] as const;

function* sourceFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* sourceFiles(p);
    else if (/\.(ts|mts|js|mjs)$/.test(name)) yield p;
  }
}

/** Top-level folder each relative import of `file` lands in. */
function importedFolders(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.[^'"]+)['"]/g)) {
    const target = relative(repo, resolve(dirname(file), m[1]!));
    out.push(target.split('/')[0]!);
  }
  return out;
}

describe('module boundaries', () => {
  it('shared/ never imports a tool folder', () => {
    const bad: string[] = [];
    for (const f of sourceFiles(join(repo, 'shared'))) {
      for (const top of importedFolders(f)) if ((TOOLS as readonly string[]).includes(top)) bad.push(`${relative(repo, f)} → ${top}`);
    }
    expect(bad).toEqual([]);
  });

  it('no tool imports another tool', () => {
    const bad: string[] = [];
    for (const tool of TOOLS) {
      for (const f of sourceFiles(join(repo, tool))) {
        for (const top of importedFolders(f)) if (top !== tool && (TOOLS as readonly string[]).includes(top)) bad.push(`${relative(repo, f)} → ${top}`);
      }
    }
    expect(bad).toEqual([]);
  });

  /** Front-end uses in `dir`: commander, shared/cli/, run-tool/commands/, process stdio, argv or exit. */
  function frontEndUses(dir: string): string[] {
    const bad: string[] = [];
    for (const f of sourceFiles(dir)) {
      const src = readFileSync(f, 'utf8');
      const name = relative(repo, f);
      for (const m of src.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
        const spec = m[1]!;
        if (spec === 'commander' || spec.startsWith('commander/')) bad.push(`${name} → ${spec}`);
        if (spec.startsWith('.')) {
          const target = relative(repo, resolve(dirname(f), spec));
          if (target.startsWith('shared/cli/') || target.startsWith('run-tool/commands/')) bad.push(`${name} → ${target}`);
        }
      }
      for (const m of src.matchAll(/process\s*\.\s*(stdout|stderr|stdin|exit(?:Code)?|argv)\b/g)) bad.push(`${name} uses process.${m[1]}`);
    }
    return bad;
  }

  it('run-tool/ops/ is front-end free: no commander, no shared/cli, no commands/, no process stdio, argv or exit', () => {
    expect([...sourceFiles(join(repo, 'run-tool', 'ops'))].length).toBeGreaterThan(3);
    expect(frontEndUses(join(repo, 'run-tool', 'ops'))).toEqual([]);
  });

  it('the run-tool/ops checker can fail: it sees the command modules\' front-end uses', () => {
    const uses = frontEndUses(join(repo, 'run-tool', 'commands'));
    expect(uses.some((u) => u.endsWith('→ commander'))).toBe(true);
    expect(uses.some((u) => u.includes('→ shared/cli/'))).toBe(true);
    expect(uses.some((u) => u.endsWith('uses process.stdout'))).toBe(true);
  });

  it('the checker sees imports (it can fail)', () => {
    expect(importedFolders(join(repo, 'copy-tool', 'main.ts'))).toContain('shared');
  });
});
