import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

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
