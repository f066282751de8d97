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

  it('run-tool/api/ is front-end free: it translates HTTP onto ops/, never through commander, shared/cli or commands/', () => {
    expect([...sourceFiles(join(repo, 'run-tool', 'api'))].length).toBeGreaterThan(3);
    expect(frontEndUses(join(repo, 'run-tool', 'api')).filter((u) => !/uses process\.stderr$/.test(u))).toEqual([]);
  });

  it('run-tool/containers/ takes no flags: no commander, no shared/cli, no commands/', () => {
    // the container machinery is library code: it may write a foreground container's output to the terminal
    // and name its own script for the monitor's exit command, nothing else of the front end
    const uses = frontEndUses(join(repo, 'run-tool', 'containers'))
      .filter((u) => !/uses process\.(stdout|stderr|argv)$/.test(u) || !/^run-tool\/containers\/(run-foreground|runc-handle)\.ts /.test(u));
    expect(uses).toEqual([]);
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

/**
 * The import graph of the library and the tools: file → the repository files it imports. Edges are every static
 * `import … from './…'` and `export … from './…'`, type-only ones included (a type-only circle is still two
 * modules that cannot be understood apart), plus dynamic `import('./…')` (a lazy import is still a dependency).
 */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const top of ['shared', ...TOOLS]) {
    for (const f of sourceFiles(join(repo, top))) {
      const src = readFileSync(f, 'utf8');
      const to = new Set<string>();
      for (const m of src.matchAll(/^(?:import|export)\s[^'";]*?\sfrom\s+['"](\.[^'"]+)['"]/gms)) to.add(relative(repo, resolve(dirname(f), m[1]!)));
      for (const m of src.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) to.add(relative(repo, resolve(dirname(f), m[1]!)));
      graph.set(relative(repo, f), [...to]);
    }
  }
  return graph;
}

/** The import cycles of `graph`: its strongly connected components of more than one file (or a file importing itself), sorted. */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || graph.get(v)!.includes(v)) out.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** Files of the library and the tools, relative to the repository, with their text. */
function* repoSources(): Generator<[string, string]> {
  for (const top of ['shared', ...TOOLS]) for (const f of sourceFiles(join(repo, top))) yield [relative(repo, f), readFileSync(f, 'utf8')];
}

/**
 * Files that start system programs with node:child_process themselves instead of through shared/process/run.ts,
 * and why each must (or may, for now). Everything else goes through runProgram.
 */
const CHILD_PROCESS_ALLOWED: Readonly<Record<string, string>> = {
  'shared/runtime/runc.ts': 'the Runc class: `runc run`/`runc exec` in the foreground with inherited stdio, extra fds and the child handed to the caller to proxy signals',
  'shared/runtime/userns.ts': 'unshare with a sync pipe on fd 3 held until the id maps are installed, the detached pause process, nsenter re-exec with inherited stdio',
  'shared/network/pasta.ts': 'pasta is started detached and outlives the CLI',
  'shared/registry/credentials.ts': 'credential helpers: a spawn-and-collect with a timeout (a candidate for runProgram)',
  'shared/signature/gpg.ts': 'gpg with binary input: a spawn-and-collect (a candidate for runProgram)',
  'shared/build/executor/archive.ts': 'xz/bzip2 decode a stream: stdin and stdout are streams, not collected text',
  'shared/build/executor/build-dir.ts': 'the build watchdog shell is started detached and outlives the build to delete its runc containers',
  'shared/build/context/ssh-sources.ts': '`ssh-agent -D` serving --ssh key files runs as long as the build and is stopped by its PID (not a spawn-and-collect)',
  'run-tool/containers/health.ts': 'the health-check timer is a detached shell loop in its own process group that outlives the CLI',
  'run-tool/containers/start-container.ts': "conmon is started detached, reporting the container's pid on a sync pipe (fd 3)",
};

/** Files that may name runc's state dir outside the Runc class, and why. */
const RUNC_ARGV_ALLOWED: Readonly<Record<string, string>> = {
  'shared/build/executor/build-dir.ts': 'the build watchdog is a shell script that runs `runc --root ROOT delete` after the build process is gone',
};

describe('no circles, no back doors', () => {
  it('the import graph has no cycles', () => {
    expect(importCycles(importGraph()).map((c) => c.join(' <-> '))).toEqual([]);
  });

  it('the cycle finder finds a cycle (it can fail)', () => {
    const g = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
    expect(importCycles(g)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(importGraph().get('run-tool/containers/create.ts')).toContain('run-tool/containers/rootfs-mount.ts');
  });

  it('no runc argv is built outside the Runc class', () => {
    const bad: string[] = [];
    for (const [file, src] of repoSources()) {
      if (file === 'shared/runtime/runc.ts' || RUNC_ARGV_ALLOWED[file]) continue;
      src.split('\n').forEach((line, i) => {
        if (/runc\.root\b|'--root',\s*runc|(?:spawn|spawnSync|execFile|execFileSync|runProgram)\(\s*runc\.path/.test(line)) bad.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(bad).toEqual([]);
  });

  it('no child_process outside shared/process/ but the allowed places', () => {
    const bad: string[] = [];
    const seen = new Set<string>();
    for (const [file, src] of repoSources()) {
      if (file.startsWith('shared/process/')) continue;
      if (!/^import\s+(?!type\s)[^;]*from\s+['"]node:child_process['"]/m.test(src) && !/import\(\s*['"]node:child_process['"]\s*\)/.test(src)) continue;
      seen.add(file);
      if (!CHILD_PROCESS_ALLOWED[file]) bad.push(file);
    }
    expect(bad).toEqual([]);
    // an entry that no longer spawns anything is stale: remove it
    expect(Object.keys(CHILD_PROCESS_ALLOWED).filter((f) => !seen.has(f))).toEqual([]);
  });

  it('the library returns or throws its errors: no `Error: …` printed outside the command layer', () => {
    const bad: string[] = [];
    for (const [file, src] of repoSources()) {
      const library = (file.startsWith('shared/') && !file.startsWith('shared/cli/')) || file.startsWith('run-tool/containers/') || file.startsWith('run-tool/ops/');
      if (library && /stderr\.write\(\s*`Error/.test(src)) bad.push(file);
    }
    expect(bad).toEqual([]);
  });
});
