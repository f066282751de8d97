import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgeRuncVersion, parseRuncVersion } from '../../../shared/runtime/runc-version.ts';
import { gateRunc } from '../../../shared/runtime/runc.ts';
import { scratchDir } from '../../helpers/tmp.ts';

async function fakeRunc(dir: string, version: string, commit = 'v' + version): Promise<string> {
  const p = join(dir, `runc-${version.replace(/[^a-z0-9.]/gi, '_')}`);
  await writeFile(p, `#!/bin/sh\nprintf 'runc version ${version}\\ncommit: ${commit}\\nspec: 1.0.2\\ngo: go1.22\\nlibseccomp: 2.5.4\\n'\n`);
  await chmod(p, 0o755);
  return p;
}

describe('RU-01 runc version gate', () => {
  it('RU-01 judges upstream versions against each branch fix', () => {
    const j = (v: string) => judgeRuncVersion({ version: v });
    expect(j('1.0.0-rc6').missing).toContain('CVE-2019-5736');
    expect(j('1.0.0-rc93').missing).toContain('CVE-2021-30465');
    expect(j('1.0.0-rc95').missing).not.toContain('CVE-2021-30465');
    expect(j('1.1.11')).toMatchObject({ status: 'old' });
    expect(j('1.1.11').missing).toContain('CVE-2024-21626');
    expect(j('1.1.12').missing).not.toContain('CVE-2024-21626');
    expect(j('1.2.7').missing).toEqual(['CVE-2025-31133', 'CVE-2025-52565', 'CVE-2025-52881', 'CVE-2026-41579']);
    expect(j('1.2.8').missing).toEqual(['CVE-2026-41579']);
    expect(j('1.3.2').missing).toContain('CVE-2025-31133');
    expect(j('1.3.3').missing).toEqual(['CVE-2026-41579']);
    expect(j('1.3.5')).toMatchObject({ status: 'old', missing: ['CVE-2026-41579'] });
    expect(j('1.3.6')).toMatchObject({ status: 'patched', missing: [] });
    expect(j('1.4.0-rc.2').missing).toContain('CVE-2025-31133');
    expect(j('1.4.2').missing).toEqual(['CVE-2026-41579']);
    expect(j('1.4.3').status).toBe('patched');
    expect(j('1.5.0').status).toBe('patched');
    expect(j('garbage').status).toBe('unknown');
  });

  it('RU-01 Debian 1.1.5+ds1 is a distribution build and accepted', () => {
    const v = parseRuncVersion('runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\n')!;
    expect(v).toEqual({ version: '1.1.5+ds1', commit: '1.1.5+ds1-1+deb12u1', spec: '1.0.2-dev' });
    expect(judgeRuncVersion(v).status).toBe('distribution');
  });

  it('RU-01 fake runc binaries: old ones warn loudly (or refuse when strict), distro and patched pass', async () => {
    const s = await scratchDir();
    try {
      const warnings: string[] = [];
      const w = { onWarning: (m: string) => warnings.push(m) };
      expect((await gateRunc(await fakeRunc(s.dir, '1.1.11'), w)).status).toBe('old');
      expect(warnings[0]).toMatch(/WARNING: runc 1.1.11 is missing security fixes for .*CVE-2024-21626/);
      await expect(gateRunc(await fakeRunc(s.dir, '1.2.7'), { strict: true })).rejects.toMatchObject({ code: 'EPERM' });
      expect((await gateRunc(await fakeRunc(s.dir, '1.1.5+ds1', '1.1.5+ds1-1+deb12u1'), w)).status).toBe('distribution');
      expect((await gateRunc(await fakeRunc(s.dir, '1.3.6'), { strict: true })).status).toBe('patched');
      expect(warnings).toHaveLength(1);
      const broken = join(s.dir, 'broken');
      await writeFile(broken, '#!/bin/sh\nexit 3\n');
      await chmod(broken, 0o755);
      await expect(gateRunc(broken)).rejects.toMatchObject({ code: 'ENODEP' });
    } finally {
      await s.cleanup();
    }
  });
});
