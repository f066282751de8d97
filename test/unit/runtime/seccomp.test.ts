import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPS } from '../../../shared/runtime/capabilities.ts';
import { convertSeccompProfile, DEFAULT_SECCOMP_PATH, loadSeccomp, type CommonSeccompProfile } from '../../../shared/runtime/seccomp.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { existsSync } from 'node:fs';

const host = { goArch: 'amd64', kernel: '6.1.0' };
const profile: CommonSeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 38,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [] },
    { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
    { names: ['breakpoint'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm', 'arm64'] } },
    { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['newthing'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '7.2' } },
    { names: ['oldthing'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.8' } },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
  ],
};

describe('seccomp conversion', () => {
  it('archMap, arches, caps and minKernel are applied for the host', () => {
    const s = convertSeccompProfile(profile, DEFAULT_CAPS, host);
    expect(s.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(s.defaultErrnoRet).toBe(38);
    expect(s.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const names = s.syscalls!.map((r) => `${r.names.join(',')}:${r.action}`);
    expect(names).toEqual(['read,write:SCMP_ACT_ALLOW', 'arch_prctl:SCMP_ACT_ALLOW', 'mount:SCMP_ACT_ERRNO', 'oldthing:SCMP_ACT_ALLOW', 'personality:SCMP_ACT_ALLOW']);
    expect(s.syscalls!.find((r) => r.names[0] === 'mount')!.errnoRet).toBe(1);
    expect(s.syscalls!.find((r) => r.names[0] === 'personality')!.args).toEqual([{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }]);
    const admin = convertSeccompProfile(profile, [...DEFAULT_CAPS, 'sys_admin'], { goArch: 'arm64', kernel: '7.3.1' });
    expect(admin.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(admin.syscalls!.map((r) => `${r.names[0]}:${r.action}`)).toEqual(['read:SCMP_ACT_ALLOW', 'breakpoint:SCMP_ACT_ALLOW', 'mount:SCMP_ACT_ALLOW', 'newthing:SCMP_ACT_ALLOW', 'oldthing:SCMP_ACT_ALLOW', 'personality:SCMP_ACT_ALLOW']);
  });

  it.skipIf(!existsSync(DEFAULT_SECCOMP_PATH))('converts the installed podman profile', async () => {
    const s = (await loadSeccomp('default', DEFAULT_CAPS))!;
    expect(s.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(s.architectures).toContain('SCMP_ARCH_X86_64');
    const allowed = new Set(s.syscalls!.filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names));
    expect(allowed.has('read')).toBe(true);
    expect(allowed.has('chroot')).toBe(true); // CAP_SYS_CHROOT is a default cap
    expect(allowed.has('bpf')).toBe(false); // needs CAP_SYS_ADMIN
    for (const r of s.syscalls!) expect(Object.keys(r).every((k) => ['names', 'action', 'errnoRet', 'args'].includes(k))).toBe(true);
  });

  it('unconfined, fallback and custom profiles', async () => {
    expect(await loadSeccomp('unconfined', DEFAULT_CAPS)).toBeUndefined();
    const fb = (await loadSeccomp('default', DEFAULT_CAPS, { defaultPath: '/nonexistent/seccomp.json', host }))!;
    expect(fb.defaultAction).toBe('SCMP_ACT_ALLOW');
    expect(fb.syscalls!.flatMap((r) => r.names)).toContain('unshare');
    const s = await scratchDir();
    try {
      await writeFile(join(s.dir, 'p.json'), JSON.stringify(profile));
      expect((await loadSeccomp({ path: join(s.dir, 'p.json') }, DEFAULT_CAPS, { host }))!.defaultErrnoRet).toBe(38);
      await writeFile(join(s.dir, 'bad.json'), '{');
      await expect(loadSeccomp({ path: join(s.dir, 'bad.json') }, DEFAULT_CAPS)).rejects.toMatchObject({ code: 'EINVALID' });
      await expect(loadSeccomp({ path: join(s.dir, 'missing.json') }, DEFAULT_CAPS)).rejects.toMatchObject({ code: 'EINVALID' });
    } finally {
      await s.cleanup();
    }
  });
});
