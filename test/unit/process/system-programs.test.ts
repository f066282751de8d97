import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateProgram, notInstalled, SYSTEM_PROGRAMS } from '../../../shared/process/system-programs.ts';

const repo = resolve(import.meta.dirname, '../../..');

function sources(dir: string): string[] {
  return readdirSync(join(repo, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Program names that the code spawns or looks up by a literal name. */
function spawnedPrograms(): Map<string, string> {
  const found = new Map<string, string>();
  const call = /\b(?:spawn|spawnSync|execFile|execFileSync|runProgram|requireProgram|locateProgram|notInstalled)\(\s*'([a-z0-9][a-z0-9.-]*)'/g;
  for (const file of ['shared', 'build-tool', 'copy-tool', 'run-tool'].flatMap(sources)) {
    for (const m of readFileSync(file, 'utf8').matchAll(call)) found.set(m[1]!, file.replace(`${repo}/`, ''));
  }
  return found;
}

describe('the list of system programs', () => {
  it('names every program the code spawns (the tools themselves aside)', () => {
    const spawned = spawnedPrograms();
    for (const self of ['build-tool', 'copy-tool', 'run-tool']) spawned.delete(self);
    expect(spawned.size).toBeGreaterThan(10); // the scan finds the calls (it can fail)
    const unlisted = [...spawned].filter(([p]) => !SYSTEM_PROGRAMS[p]).map(([p, f]) => `${p} (${f})`);
    expect(unlisted).toEqual([]);
  });

  it('gives every program a Debian package and at least one purpose', () => {
    for (const [name, p] of Object.entries(SYSTEM_PROGRAMS)) {
      expect(p.package, name).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
      expect(p.needs.length, name).toBeGreaterThan(0);
    }
  });

  it('a missing program is one ENODEP line naming the package to install', () => {
    const e = notInstalled('getfattr');
    expect(e.code).toBe('ENODEP');
    expect(e.message).toBe('getfattr is not installed');
    expect(e.hint).toContain('apt-get install attr');
    expect(locateProgram('netavark', { PATH: '', SKIFF_NETAVARK: '/opt/x/netavark' })).toBe('/opt/x/netavark');
  });

  // CI never skips a test for want of a program: everything the tests need is installed (scripts/test.sh installs
  // it from this list), so a test's skipIf on a missing program can only trigger on a developer's partial machine.
  it.runIf(process.env.CI !== undefined)('in CI, every program the tests need is installed', () => {
    const missing = Object.entries(SYSTEM_PROGRAMS).filter(([name, p]) => p.needs.includes('test') && locateProgram(name) === undefined);
    expect(missing.map(([n, p]) => `${n} (${p.package})`)).toEqual([]);
  });
});
