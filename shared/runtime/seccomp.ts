import { readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { SkiffError } from '../errors.ts';
import type { SpecSeccomp, SpecSeccompArg, SpecSeccompSyscall } from './types.ts';

/** Where podman's (containers/common) default profile lives on Debian and Fedora. */
export const DEFAULT_SECCOMP_PATH = '/usr/share/containers/seccomp.json';

/** A profile in containers/common (moby) form, as seccomp.json holds it. */
export interface CommonSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  flags?: string[];
  syscalls?: {
    name?: string;
    names?: string[];
    action: string;
    errnoRet?: number;
    args?: SpecSeccompArg[] | null;
    includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
    excludes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  }[];
}

/** Host conditions a conversion depends on. */
export interface SeccompHost {
  /** Go-style architecture name: amd64, arm64, ... */
  goArch: string;
  /** kernel release, e.g. "6.1.0" */
  kernel: string;
}

const NODE_TO_GO: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips: 'mips', mipsel: 'mipsle', loong64: 'loong64' };
const GO_TO_SCMP: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64', '386': 'SCMP_ARCH_X86', arm64: 'SCMP_ARCH_AARCH64', arm: 'SCMP_ARCH_ARM', ppc64le: 'SCMP_ARCH_PPC64LE',
  s390x: 'SCMP_ARCH_S390X', riscv64: 'SCMP_ARCH_RISCV64', mips: 'SCMP_ARCH_MIPS', mipsle: 'SCMP_ARCH_MIPSEL', loong64: 'SCMP_ARCH_LOONGARCH64',
};
// profile "arches" use seccomp's short names; compare with the host's
const GO_TO_PROFILE_ARCH: Record<string, string> = { amd64: 'amd64', '386': 'x86', arm64: 'arm64', arm: 'arm', ppc64le: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips: 'mips', mipsle: 'mipsel', loong64: 'loong64' };

/** The running host's architecture and kernel. */
export function currentSeccompHost(): SeccompHost {
  return { goArch: NODE_TO_GO[process.arch] ?? process.arch, kernel: release() };
}

function kernelAtLeast(have: string, want: string): boolean {
  const p = (s: string) => s.split(/[.-]/).slice(0, 2).map((x) => Number.parseInt(x, 10) || 0);
  const [a1 = 0, a2 = 0] = p(have);
  const [b1 = 0, b2 = 0] = p(want);
  return a1 !== b1 ? a1 > b1 : a2 >= b2;
}

const capName = (c: string) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);

/**
 * Converts a containers/common profile to runtime-spec form for one host and one capability set (as
 * containers/common's `setupSeccomp` does): architectures from `archMap` for the host arch, syscall rules kept
 * only when their `includes` hold (all listed caps present, host arch listed, kernel ≥ minKernel) and their
 * `excludes` do not (any listed cap present, host arch listed). Pure.
 */
export function convertSeccompProfile(p: CommonSeccompProfile, caps: readonly string[], host: SeccompHost = currentSeccompHost()): SpecSeccomp {
  if (typeof p.defaultAction !== 'string' || !p.defaultAction.startsWith('SCMP_ACT_')) throw new SkiffError('EINVALID', 'seccomp profile has no valid defaultAction');
  const have = new Set(caps.map(capName));
  const arch = GO_TO_PROFILE_ARCH[host.goArch] ?? host.goArch;
  const scmp = GO_TO_SCMP[host.goArch];
  let architectures: string[] = [];
  if (p.archMap && scmp) {
    for (const m of p.archMap) if (m.architecture === scmp) architectures.push(m.architecture, ...(m.subArchitectures ?? []));
  } else if (p.architectures) architectures = [...p.architectures];
  const syscalls: SpecSeccompSyscall[] = [];
  for (const s of p.syscalls ?? []) {
    const inc = s.includes ?? {};
    const exc = s.excludes ?? {};
    if (inc.caps?.length && !inc.caps.every((c) => have.has(capName(c)))) continue;
    if (inc.arches?.length && !inc.arches.includes(arch)) continue;
    if (inc.minKernel && !kernelAtLeast(host.kernel, inc.minKernel)) continue;
    if (exc.caps?.length && exc.caps.some((c) => have.has(capName(c)))) continue;
    if (exc.arches?.length && exc.arches.includes(arch)) continue;
    const names = s.names?.length ? s.names : s.name ? [s.name] : [];
    if (names.length === 0) continue;
    const rule: SpecSeccompSyscall = { names: [...names], action: s.action };
    if (s.errnoRet !== undefined) rule.errnoRet = s.errnoRet;
    if (s.args && s.args.length > 0) rule.args = s.args.map((a) => ({ index: a.index, value: a.value, ...(a.valueTwo ? { valueTwo: a.valueTwo } : {}), op: a.op }));
    syscalls.push(rule);
  }
  const out: SpecSeccomp = { defaultAction: p.defaultAction, architectures, syscalls };
  if (p.defaultErrnoRet !== undefined) out.defaultErrnoRet = p.defaultErrnoRet;
  if (p.flags?.length) out.flags = [...p.flags];
  return out;
}

/**
 * The built-in fallback when no seccomp.json is installed: allow by default, deny (EPERM) the syscalls
 * podman's profile denies to a container without extra capabilities. Gated by the same cap rules.
 */
export const FALLBACK_PROFILE: CommonSeccompProfile = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [
    { names: ['kexec_load', 'kexec_file_load', 'open_by_handle_at', 'userfaultfd', 'keyctl', 'add_key', 'request_key', 'nfsservctl', 'uselib', 'vmsplice', 'sysfs', 'bdflush', 'ustat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    { names: ['mount', 'umount', 'umount2', 'unshare', 'setns', 'pivot_root', 'bpf', 'fanotify_init', 'lookup_dcookie', 'quotactl', 'syslog', 'name_to_handle_at', 'perf_event_open', 'fsopen', 'fsmount', 'fspick', 'move_mount', 'open_tree'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['init_module', 'finit_module', 'delete_module'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_MODULE'] } },
    { names: ['reboot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_BOOT'] } },
    { names: ['swapon', 'swapoff'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_PTRACE'] } },
    { names: ['acct'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_PACCT'] } },
    { names: ['clock_settime', 'settimeofday', 'stime', 'clock_adjtime', 'adjtimex'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_TIME'] } },
    { names: ['iopl', 'ioperm'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_RAWIO'] } },
  ],
};

/** How a container's seccomp filter is chosen: the default profile, none, or a profile file. */
export type SeccompChoice = 'default' | 'unconfined' | { path: string };

/**
 * Loads and converts the seccomp filter for `caps`: `unconfined` → undefined (no filter); `default` → the
 * installed podman profile (DEFAULT_SECCOMP_PATH, overridable for tests) or FALLBACK_PROFILE when absent;
 * `{path}` → that profile (EINVALID when unreadable or malformed). Reads at most one file.
 */
export async function loadSeccomp(choice: SeccompChoice, caps: readonly string[], o: { defaultPath?: string; host?: SeccompHost; signal?: AbortSignal } = {}): Promise<SpecSeccomp | undefined> {
  if (choice === 'unconfined') return undefined;
  const path = choice === 'default' ? (o.defaultPath ?? DEFAULT_SECCOMP_PATH) : choice.path;
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', signal: o.signal });
  } catch (e) {
    if (choice === 'default' && (e as NodeJS.ErrnoException).code === 'ENOENT') return convertSeccompProfile(FALLBACK_PROFILE, caps, o.host);
    throw new SkiffError('EINVALID', `cannot read seccomp profile ${path}: ${(e as Error).message}`, { cause: e });
  }
  let profile: CommonSeccompProfile;
  try {
    profile = JSON.parse(text) as CommonSeccompProfile;
  } catch (e) {
    throw new SkiffError('EINVALID', `seccomp profile ${path} is not valid JSON`, { cause: e });
  }
  return convertSeccompProfile(profile, caps, o.host);
}
