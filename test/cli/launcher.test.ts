import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
const TOOLS = ['build-tool', 'copy-tool', 'run-tool'];

function nodeVersion(bin: string): string | undefined {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
  } catch {
    return undefined;
  }
}
const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
  const v = nodeVersion(p);
  if (!v) return false;
  const [maj, min] = v.split('.').map(Number) as [number, number];
  return maj < 22 || (maj === 22 && min < 15);
});

describe('launchers', () => {
  it.each(TOOLS)('%s --version prints the version and exits 0', (tool) => {
    const r = spawnSync(process.execPath, [resolve(repo, 'bin', `${tool}.mjs`), '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(new RegExp(`^${tool} version \\d+\\.\\d+\\.\\d+`));
    expect(existsSync(resolve(repo, 'dist', `${tool}.mjs`))).toBe(true);
  });

  it.skipIf(!systemNode).each(TOOLS)('%s under an old system Node prints a clear error and exits 1', (tool) => {
    const r = spawnSync(systemNode!, [resolve(repo, 'bin', `${tool}.mjs`), '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^${tool}: Node\\.js \\S+ is too old; skiff needs Node\\.js 22\\.15 or newer`));
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('an unknown option exits non-zero with a usage message on stderr', () => {
    const r = spawnSync(process.execPath, [resolve(repo, 'bin', 'copy-tool.mjs'), '--no-such-flag'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("unknown option '--no-such-flag'");
    expect(r.stdout).toBe('');
  });
});

describe('start-up stays light', () => {
  /** Every file the entry loads before running: static `import … from "./chunks/…"` edges, transitively. */
  function staticGraph(file: string, seen = new Set<string>()): Set<string> {
    if (seen.has(file)) return seen;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^\s*import\s[^'"()]*?from\s*["'](\.[^"']+)["']|^\s*import\s*["'](\.[^"']+)["']/gm)) {
      staticGraph(resolve(dirname(file), (m[1] ?? m[2])!), seen);
    }
    return seen;
  }

  it.each(TOOLS)('%s loads neither undici nor openpgp until a command needs them', (tool) => {
    const files = [...staticGraph(resolve(repo, 'dist', `${tool}.mjs`))];
    expect(files.length).toBeGreaterThan(1); // the graph walk found the chunks (it can fail)
    const eager = files.filter((f) => /node_modules\/(undici|openpgp)\//.test(readFileSync(f, 'utf8')));
    expect(eager.map((f) => f.replace(repo, ''))).toEqual([]);
  });
});
