/**
 * Foreign-architecture emulation through binfmt_misc (qemu-user-static): which architectures this machine can run
 * that it cannot run natively. An architecture counts as runnable by emulation when binfmt_misc is enabled and an
 * enabled entry with the F (fix-binary) flag matches an ELF executable header of that architecture — the F flag
 * makes the kernel open the interpreter at registration, so it works inside containers and user namespaces whose
 * mount namespace has no such file. Entries without F are ignored for that reason (podman reports them the same
 * way). Reads only; `SKIFF_BINFMT_DIR` names another directory than /proc/sys/fs/binfmt_misc (tests).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError } from '../errors.ts';
import { formatPlatform, hostPlatform, normalizePlatform } from '../image/platform.ts';
import type { Platform } from '../oci/types.ts';

/** ELF identity of an architecture: class (1 = 32-bit, 2 = 64-bit), byte order (1 = little, 2 = big), e_machine. */
interface ElfId {
  cls: 1 | 2;
  data: 1 | 2;
  machine: number;
}

/** OCI architecture names and the ELF identity of their Linux executables. */
const ELF_IDS: Readonly<Record<string, ElfId>> = {
  amd64: { cls: 2, data: 1, machine: 62 },
  '386': { cls: 1, data: 1, machine: 3 },
  arm64: { cls: 2, data: 1, machine: 183 },
  arm: { cls: 1, data: 1, machine: 40 },
  ppc64le: { cls: 2, data: 1, machine: 21 },
  ppc64: { cls: 2, data: 2, machine: 21 },
  s390x: { cls: 2, data: 2, machine: 22 },
  riscv64: { cls: 2, data: 1, machine: 243 },
  mips64le: { cls: 2, data: 1, machine: 8 },
  mips64: { cls: 2, data: 2, machine: 8 },
  mipsle: { cls: 1, data: 1, machine: 8 },
  mips: { cls: 1, data: 2, machine: 8 },
  loong64: { cls: 2, data: 1, machine: 258 },
};

/** Debian's qemu-user-static interpreter name of an OCI architecture (qemu-<name>-static, binfmt entry qemu-<name>). */
const QEMU_NAMES: Readonly<Record<string, string>> = {
  amd64: 'x86_64', '386': 'i386', arm64: 'aarch64', arm: 'arm', ppc64le: 'ppc64le', ppc64: 'ppc64', s390x: 's390x',
  riscv64: 'riscv64', mips64le: 'mips64el', mips64: 'mips64', mipsle: 'mipsel', mips: 'mips', loong64: 'loongarch64',
};

/** The first 20 bytes of an ELF executable (e_type EXEC or DYN) of an architecture. */
function elfHeaders(id: ElfId): Buffer[] {
  return [2, 3].map((type) => {
    const h = Buffer.alloc(20);
    h.set([0x7f, 0x45, 0x4c, 0x46, id.cls, id.data, 1], 0);
    if (id.data === 1) {
      h.writeUInt16LE(type, 16);
      h.writeUInt16LE(id.machine, 18);
    } else {
      h.writeUInt16BE(type, 16);
      h.writeUInt16BE(id.machine, 18);
    }
    return h;
  });
}

/** One binfmt_misc entry as its file shows it: enabled, flags, offset, magic and mask (hex). */
export interface BinfmtEntry {
  enabled: boolean;
  flags: string;
  offset: number;
  magic?: Buffer;
  mask?: Buffer;
  interpreter?: string;
}

/** Parses one entry file of /proc/sys/fs/binfmt_misc. Pure. */
export function parseBinfmtEntry(text: string): BinfmtEntry {
  const e: BinfmtEntry = { enabled: false, flags: '', offset: 0 };
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/u, 2);
    if (k === 'enabled') e.enabled = true;
    else if (k === 'interpreter' && v !== undefined) e.interpreter = v;
    else if ((k === 'flags:' || k === 'flags') && v !== undefined) e.flags = v;
    else if (k === 'offset' && v !== undefined) e.offset = Number.parseInt(v, 10) || 0;
    else if (k === 'magic' && v !== undefined) e.magic = Buffer.from(v, 'hex');
    else if (k === 'mask' && v !== undefined) e.mask = Buffer.from(v, 'hex');
  }
  return e;
}

/** True when `header` matches the entry's magic (masked) at its offset. Pure. */
function matches(e: BinfmtEntry, header: Buffer): boolean {
  if (e.magic === undefined || e.magic.length === 0 || e.offset + e.magic.length > header.length) return false;
  for (let i = 0; i < e.magic.length; i++) {
    const m = e.mask?.[i] ?? 0xff;
    if ((header[e.offset + i]! & m) !== (e.magic[i]! & m)) return false;
  }
  return true;
}

/**
 * The architectures (OCI names, sorted) that the given entries make runnable: enabled entries with the F flag whose
 * magic matches that architecture's ELF executables. Pure.
 */
export function emulatedBy(entries: readonly BinfmtEntry[]): string[] {
  const usable = entries.filter((e) => e.enabled && e.flags.includes('F'));
  return Object.entries(ELF_IDS)
    .filter(([, id]) => elfHeaders(id).some((h) => usable.some((e) => matches(e, h))))
    .map(([arch]) => arch)
    .sort();
}

/** The binfmt_misc directory read (`SKIFF_BINFMT_DIR` or /proc/sys/fs/binfmt_misc). */
export function binfmtDir(): string {
  return process.env.SKIFF_BINFMT_DIR ?? '/proc/sys/fs/binfmt_misc';
}

/**
 * The platforms (`linux/ARCH`, sorted) this machine runs through binfmt_misc emulation, as podman 4.x reports
 * `host.emulatedArchitectures`; empty when binfmt_misc is not mounted or is disabled. Never throws.
 */
export async function emulatedArchitectures(dir = binfmtDir()): Promise<string[]> {
  const status = await readFile(join(dir, 'status'), 'utf8').catch(() => '');
  if (status.trim() !== 'enabled') return [];
  const names = await readdir(dir).catch(() => [] as string[]);
  const entries = await Promise.all(
    names.filter((n) => n !== 'status' && n !== 'register').map((n) => readFile(join(dir, n), 'utf8').then(parseBinfmtEntry, () => undefined)),
  );
  return emulatedBy(entries.filter((e): e is BinfmtEntry => e !== undefined)).map((a) => `linux/${a}`);
}

/** True when the host runs executables of `p` natively (its own architecture; 386 on amd64; arm on arm64 is not assumed). */
export function runsNatively(p: Platform): boolean {
  const want = normalizePlatform(p);
  const host = hostPlatform();
  if (want.os !== host.os) return false;
  return want.architecture === host.architecture || (host.architecture === 'amd64' && want.architecture === '386');
}

/**
 * Checks, before anything runs, that executables of platform `p` can run here (natively or through a registered
 * emulator). Throws EUNSUPPORTED with one line naming the platform and what to install and register, prefixed by
 * `what` (e.g. the build step).
 */
export async function requireRunnable(p: Platform, what: string, dir = binfmtDir()): Promise<void> {
  if (runsNatively(p)) return;
  const want = normalizePlatform(p);
  if (want.os === 'linux' && (await emulatedArchitectures(dir)).includes(`linux/${want.architecture}`)) return;
  const qemu = QEMU_NAMES[want.architecture];
  const pf = formatPlatform(want);
  throw new SkiffError('EUNSUPPORTED', `${what}: no emulator for ${pf} is registered in binfmt_misc on this ${formatPlatform(hostPlatform())} machine`, {
    hint: qemu === undefined
      ? `run the build on a ${pf} machine`
      : `install qemu-user-static and register qemu-${qemu} with the F flag (as root: scripts/register-binfmt.sh), or build for ${formatPlatform(hostPlatform())}`,
  });
}
