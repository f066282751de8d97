import { SkiffError } from '../errors.ts';
import { ALL_CAPS } from './capabilities.ts';
import { RLIMIT_TYPES } from './rlimits.ts';
import type { RuntimeSpec } from './types.ts';

const NS_TYPES = new Set(['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup']);
const PROPAGATIONS = new Set(['', 'private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable']);

/**
 * Checks a runtime config against the runtime-spec rules runtime-tools `validate` enforces that matter here
 * (RU-15), plus skiff's hardening invariants (maskedPaths/readonlyPaths present, no inheritable caps, a private
 * rootfs propagation). Returns every problem found (empty = valid). Pure.
 */
export function specProblems(s: RuntimeSpec): string[] {
  const p: string[] = [];
  if (typeof s.ociVersion !== 'string' || !/^1\.[0-9]+\.[0-9]+/.test(s.ociVersion)) p.push(`ociVersion ${JSON.stringify(s.ociVersion)} is not a 1.x version`);
  if (!s.root || typeof s.root.path !== 'string' || s.root.path === '') p.push('root.path is empty');
  const pr = s.process;
  if (!pr) p.push('process is missing');
  else {
    if (typeof pr.cwd !== 'string' || !pr.cwd.startsWith('/')) p.push(`process.cwd ${JSON.stringify(pr.cwd)} is not absolute`);
    else if (pr.cwd.split('/').includes('..')) p.push(`process.cwd ${pr.cwd} is not clean`);
    else if (pr.cwd === '/proc' || pr.cwd.startsWith('/proc/')) p.push(`process.cwd ${pr.cwd} is under /proc`);
    if (!Array.isArray(pr.args) || pr.args.length === 0) p.push('process.args is empty');
    for (const e of pr.env ?? []) if (typeof e !== 'string' || e.indexOf('=') <= 0) p.push(`process.env entry ${JSON.stringify(e)} has no KEY=`);
    if (!pr.user || !Number.isInteger(pr.user.uid) || pr.user.uid < 0 || !Number.isInteger(pr.user.gid) || pr.user.gid < 0) p.push('process.user uid/gid invalid');
    const caps = pr.capabilities;
    if (caps) {
      for (const [set, list] of Object.entries(caps)) for (const c of list as string[]) if (!(ALL_CAPS as readonly string[]).includes(c)) p.push(`capability ${c} in ${set} is not valid`);
      if (caps.inheritable.length > 0) p.push('process.capabilities.inheritable is not empty');
      for (const c of caps.effective) if (!caps.permitted.includes(c)) p.push(`effective capability ${c} is not permitted`);
    }
    const seen = new Set<string>();
    for (const r of pr.rlimits ?? []) {
      if (!(RLIMIT_TYPES as readonly string[]).includes(r.type)) p.push(`rlimit type ${r.type} is not valid`);
      if (seen.has(r.type)) p.push(`rlimit ${r.type} is set twice`);
      seen.add(r.type);
      if (!(r.soft <= r.hard)) p.push(`rlimit ${r.type} soft ${r.soft} exceeds hard ${r.hard}`);
      if (!Number.isSafeInteger(r.soft) || !Number.isSafeInteger(r.hard) || r.soft < 0) p.push(`rlimit ${r.type} values are not exact non-negative integers`);
    }
  }
  for (const m of s.mounts ?? []) if (typeof m.destination !== 'string' || !m.destination.startsWith('/')) p.push(`mount destination ${JSON.stringify(m.destination)} is not absolute`);
  const lx = s.linux;
  if (!lx) p.push('linux is missing');
  else {
    const types = new Set<string>();
    for (const n of lx.namespaces ?? []) {
      if (!NS_TYPES.has(n.type)) p.push(`namespace type ${n.type} is not valid`);
      if (types.has(n.type)) p.push(`namespace ${n.type} is listed twice`);
      types.add(n.type);
    }
    const hasMaps = (lx.uidMappings?.length ?? 0) > 0 || (lx.gidMappings?.length ?? 0) > 0;
    if (hasMaps && !types.has('user')) p.push('uid/gid mappings are set without a user namespace');
    if (types.has('user') && !(lx.uidMappings?.length && lx.gidMappings?.length)) p.push('a user namespace needs uid and gid mappings');
    for (const [what, maps] of [['uidMappings', lx.uidMappings], ['gidMappings', lx.gidMappings]] as const) {
      const ranges = [...(maps ?? [])].sort((a, b) => a.containerID - b.containerID);
      for (let i = 0; i < ranges.length; i++) {
        const m = ranges[i]!;
        if (![m.containerID, m.hostID, m.size].every((x) => Number.isSafeInteger(x) && x >= 0) || m.size === 0) p.push(`${what} entry ${JSON.stringify(m)} is not valid`);
        const prev = ranges[i - 1];
        if (prev && prev.containerID + prev.size > m.containerID) p.push(`${what} ranges overlap at container id ${m.containerID}`);
      }
    }
    if (!types.has('mount')) p.push('no mount namespace');
    if (s.hostname !== undefined && !types.has('uts')) p.push('hostname is set without a uts namespace');
    if (!Array.isArray(lx.maskedPaths)) p.push('linux.maskedPaths is missing');
    if (!Array.isArray(lx.readonlyPaths)) p.push('linux.readonlyPaths is missing');
    for (const x of [...(lx.maskedPaths ?? []), ...(lx.readonlyPaths ?? [])]) if (!x.startsWith('/')) p.push(`masked/readonly path ${x} is not absolute`);
    if (lx.rootfsPropagation !== undefined && !PROPAGATIONS.has(lx.rootfsPropagation)) p.push(`rootfsPropagation ${lx.rootfsPropagation} is not valid`);
    if (lx.rootfsPropagation?.includes('shared')) p.push('rootfsPropagation must not be shared');
    if (lx.seccomp) {
      if (!lx.seccomp.defaultAction?.startsWith('SCMP_ACT_')) p.push('seccomp.defaultAction is not valid');
      for (const sc of lx.seccomp.syscalls ?? []) {
        if (!sc.names?.length) p.push('a seccomp rule has no syscall names');
        if (!sc.action?.startsWith('SCMP_ACT_')) p.push(`seccomp action ${sc.action} is not valid`);
      }
    }
    for (const d of lx.devices ?? []) if (!d.path.startsWith('/')) p.push(`device path ${d.path} is not absolute`);
  }
  return p;
}

/** Throws EINVALID listing every problem when `s` is not a valid, hardened config (RU-15). */
export function validateSpec(s: RuntimeSpec): void {
  const p = specProblems(s);
  if (p.length > 0) throw new SkiffError('EINVALID', `generated runtime config is invalid: ${p.join('; ')}`, { details: { problems: p } });
}
