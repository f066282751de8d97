import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatedArchitectures, emulatedBy, parseBinfmtEntry, requireRunnable, runsNatively } from '../../../shared/runtime/emulation.ts';
import { hostPlatform } from '../../../shared/image/platform.ts';
import { scratchDir } from '../../helpers/tmp.ts';

// Debian 12's qemu-user-static entries as /proc/sys/fs/binfmt_misc shows them once registered
const aarch64 = (flags: string) => `enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: ${flags}\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n`;
const s390x = 'enabled\ninterpreter /usr/libexec/qemu-binfmt/s390x-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c4602020100000000000000000000020016\nmask ffffffffffffff00fffffffffffffffffffeffff\n';
const python = 'enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n';

describe('binfmt_misc emulation', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ dir, cleanup } = await scratchDir('skiff-binfmt-')));
  afterAll(async () => cleanup());

  const fakeBinfmt = async (name: string, status: string, entries: Record<string, string>): Promise<string> => {
    const d = join(dir, name);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'status'), `${status}\n`);
    await writeFile(join(d, 'register'), '');
    for (const [n, t] of Object.entries(entries)) await writeFile(join(d, n), t);
    return d;
  };

  it('parses an entry file', () => {
    const e = parseBinfmtEntry(aarch64('POF'));
    expect(e.enabled).toBe(true);
    expect(e.flags).toBe('POF');
    expect(e.interpreter).toBe('/usr/libexec/qemu-binfmt/aarch64-binfmt-P');
    expect(e.magic?.toString('hex')).toBe('7f454c460201010000000000000000000200b700');
    expect(parseBinfmtEntry('disabled\nflags: F\n').enabled).toBe(false);
  });

  it('an architecture counts only through an enabled entry with the F flag that matches its ELF executables', () => {
    expect(emulatedBy([parseBinfmtEntry(aarch64('POF')), parseBinfmtEntry(s390x), parseBinfmtEntry(python)])).toEqual(['arm64', 's390x']);
    // without F the interpreter path is looked up in the container's mount namespace: not usable for builds
    expect(emulatedBy([parseBinfmtEntry(aarch64('PO'))])).toEqual([]);
    expect(emulatedBy([parseBinfmtEntry(aarch64('POF').replace('enabled', 'disabled'))])).toEqual([]);
  });

  it('reads a binfmt_misc directory: linux/ARCH entries; nothing when disabled or absent', async () => {
    expect(await emulatedArchitectures(await fakeBinfmt('on', 'enabled', { 'qemu-aarch64': aarch64('OCF'), 'qemu-s390x': s390x, python3: python }))).toEqual(['linux/arm64', 'linux/s390x']);
    expect(await emulatedArchitectures(await fakeBinfmt('off', 'disabled', { 'qemu-aarch64': aarch64('F') }))).toEqual([]);
    expect(await emulatedArchitectures(join(dir, 'not-mounted'))).toEqual([]);
  });

  it('requireRunnable: native platforms pass; a foreign one needs a registered emulator, else one line naming it and what to do', async () => {
    const none = await fakeBinfmt('none', 'enabled', {});
    const some = await fakeBinfmt('some', 'enabled', { 'qemu-aarch64': aarch64('POF') });
    await requireRunnable(hostPlatform(), 'step', none);
    expect(runsNatively(hostPlatform())).toBe(true);
    if (hostPlatform().architecture === 'amd64') {
      expect(runsNatively({ os: 'linux', architecture: '386' })).toBe(true);
      await requireRunnable({ os: 'linux', architecture: 'arm64' }, 'step', some);
      const e = await requireRunnable({ os: 'linux', architecture: 'arm64' }, 'building at STEP "RUN x" (line 2)', none).catch((x: unknown) => x as Error & { hint?: string; code?: string });
      expect(e).toBeInstanceOf(Error);
      expect(e!.code).toBe('EUNSUPPORTED');
      expect(e!.message).toBe('building at STEP "RUN x" (line 2): no emulator for linux/arm64 is registered in binfmt_misc on this linux/amd64 machine');
      expect(e!.hint).toMatch(/install qemu-user-static and register qemu-aarch64 with the F flag \(as root: scripts\/register-binfmt.sh\)/);
      expect(`${e!.message}; ${e!.hint}`).not.toContain('\n');
      await expect(requireRunnable({ os: 'linux', architecture: 's390x' }, 'step', some)).rejects.toThrow(/no emulator for linux\/s390x/);
    }
  });
});
