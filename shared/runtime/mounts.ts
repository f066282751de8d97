import { statSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { SkiffError } from '../errors.ts';
import type { SpecMount } from './types.ts';

/** A user-requested mount (from `-v`, `--mount`, `--tmpfs` or a RUN `--mount`). */
export interface MountRequest {
  type: 'bind' | 'tmpfs';
  /** host path (bind only; absolute) */
  source?: string;
  /** container path (absolute) */
  destination: string;
  /** mount(8)-style options */
  options?: readonly string[];
}

const PROPAGATION = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const FLAGS = new Set(['ro', 'rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'sync', 'async', 'atime', 'noatime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'diratime', 'nodiratime']);
const BIND_ONLY = new Set(['bind', 'rbind', 'z', 'Z', 'U', 'O', 'copy', 'nocopy']);
const TMPFS_ONLY = new Set(['tmpcopyup', 'notmpcopyup']);
const TMPFS_KEYS = /^(size=[0-9]+[kKmMgG%]?|mode=[0-7]{1,4}|uid=[0-9]+|gid=[0-9]+|nr_inodes=[0-9]+[kKmMgG]?)$/;
/** Container paths no user mount may cover (BU-10): the kernel's pseudo file systems. */
const FORBIDDEN_ROOTS = ['/proc', '/sys'];

/**
 * Validates a container path for a mount or working directory: absolute, cleaned (`..` resolved lexically,
 * never above `/`), with no NUL; `what` names it in errors. Returns the cleaned path. Pure.
 */
export function cleanContainerPath(p: string, what: string): string {
  if (typeof p !== 'string' || p === '' || p.includes('\0')) throw new SkiffError('EINVALID', `invalid ${what} ${JSON.stringify(p)}`);
  if (!p.startsWith('/')) throw new SkiffError('EINVALID', `invalid ${what} ${JSON.stringify(p)}: must be an absolute path`);
  const c = posix.normalize(p);
  return c.length > 1 && c.endsWith('/') ? c.slice(0, -1) : c;
}

/** True when `p` (cleaned) is `root` or under it. */
export function isUnder(p: string, root: string): boolean {
  return p === root || p.startsWith(`${root}/`);
}

/**
 * Validates a mount request and returns its runtime-spec mount (BU-10): unknown options, bad propagation
 * values, relative targets and targets under /proc or /sys are EINVALID "invalid mount option"/"invalid mount
 * destination". Bind mounts get `rbind` and `rprivate` unless given; z/Z/U are accepted and dropped (no
 * SELinux here; U is the caller's chown). Pure.
 */
export function validateMount(m: MountRequest): SpecMount {
  const dest = cleanContainerPath(m.destination, 'mount destination');
  for (const r of FORBIDDEN_ROOTS) if (isUnder(dest, r)) throw new SkiffError('EINVALID', `invalid mount destination ${dest}: mounts over ${r} are not allowed`);
  if (dest === '/') throw new SkiffError('EINVALID', 'invalid mount destination /: cannot mount over the root');
  const opts: string[] = [];
  let propagation: string | undefined;
  let bindKind: string | undefined;
  for (const o of m.options ?? []) {
    if (PROPAGATION.has(o)) {
      if (propagation && propagation !== o) throw new SkiffError('EINVALID', `invalid mount option ${o}: conflicting propagation ${propagation}`);
      propagation = o;
    } else if (FLAGS.has(o)) opts.push(o);
    else if (m.type === 'bind' && BIND_ONLY.has(o)) {
      if (o === 'bind' || o === 'rbind') bindKind = o;
    } else if (m.type === 'tmpfs' && (TMPFS_ONLY.has(o) || TMPFS_KEYS.test(o))) opts.push(o);
    else throw new SkiffError('EINVALID', `invalid mount option ${JSON.stringify(o)} for a ${m.type} mount`);
  }
  if (opts.includes('ro') && opts.includes('rw')) throw new SkiffError('EINVALID', 'invalid mount options: both ro and rw');
  if (m.type === 'bind') {
    if (!m.source) throw new SkiffError('EINVALID', `bind mount at ${dest} has no source`);
    const src = cleanContainerPath(m.source, 'bind mount source');
    return { destination: dest, type: 'bind', source: src, options: [bindKind ?? 'rbind', propagation ?? 'rprivate', ...opts] };
  }
  if (m.source) throw new SkiffError('EINVALID', `invalid tmpfs mount at ${dest}: tmpfs takes no source`);
  const base = opts.some((o) => o.startsWith('mode=')) ? opts : [...opts, 'mode=1777'];
  if (!base.includes('nosuid') && !base.includes('suid')) base.unshift('nosuid');
  if (!base.includes('nodev') && !base.includes('dev')) base.unshift('nodev');
  if (propagation) base.push(propagation);
  return { destination: dest, type: 'tmpfs', source: 'tmpfs', options: base };
}

/**
 * Parses podman's / BuildKit's `--mount` text for bind and tmpfs mounts: `type=bind,source=A,target=B,ro,
 * bind-propagation=rshared` or `type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770`. Unknown keys and
 * propagation values are EINVALID "invalid mount option" (BU-10). Returns a validated MountRequest.
 */
export function parseMountFlag(text: string): MountRequest {
  let type: string | undefined;
  let source: string | undefined;
  let target: string | undefined;
  const options: string[] = [];
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? undefined : part.slice(eq + 1);
    switch (k) {
      case 'type': type = v; break;
      case 'source': case 'src': source = v; break;
      case 'target': case 'dst': case 'destination': target = v; break;
      case 'ro': case 'readonly':
        if (v === undefined || v === 'true' || v === '1') options.push('ro');
        else if (v !== 'false' && v !== '0') throw new SkiffError('EINVALID', `invalid mount option ${part}`);
        break;
      case 'rw':
        if (v !== undefined && v !== 'true') throw new SkiffError('EINVALID', `invalid mount option ${part}`);
        options.push('rw');
        break;
      case 'bind-propagation':
        if (!v || !PROPAGATION.has(v)) throw new SkiffError('EINVALID', `invalid mount option bind-propagation=${v ?? ''}: want one of ${[...PROPAGATION].join(', ')}`);
        options.push(v);
        break;
      case 'relabel': if (v !== 'shared' && v !== 'private') throw new SkiffError('EINVALID', `invalid mount option ${part}`); break;
      case 'tmpfs-size': options.push(`size=${v ?? ''}`); break;
      case 'tmpfs-mode': options.push(`mode=${v ?? ''}`); break;
      default: throw new SkiffError('EINVALID', `invalid mount option ${JSON.stringify(part)}`);
    }
  }
  if (type !== 'bind' && type !== 'tmpfs') throw new SkiffError('EINVALID', `invalid mount type ${JSON.stringify(type ?? '')}: want bind or tmpfs`);
  if (!target) throw new SkiffError('EINVALID', 'invalid mount: no target');
  const req: MountRequest = { type, destination: target, options, ...(source !== undefined && { source }) };
  validateMount(req);
  return req;
}

/**
 * Parses the host-directory form of `-v`: `SRC:DST[:OPTIONS]` where SRC is an absolute path or starts with `.`
 * (resolved against `cwd`). SRC must exist (podman's `statfs SRC: no such file or directory` otherwise); the `U`
 * option (chown to the container user) is dropped. Returns a validated bind MountRequest; the caller decides
 * what a SRC that is not a path means (run-tool: a named volume).
 */
export function parseHostBind(text: string, cwd: string = process.cwd()): MountRequest {
  const parts = text.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw new SkiffError('EINVALID', `invalid volume ${JSON.stringify(text)}: want SRC:DST[:OPTIONS]`);
  if (!parts[0].startsWith('/') && !parts[0].startsWith('.')) throw new SkiffError('EINVALID', `invalid volume ${JSON.stringify(text)}: the source must be a host path (absolute or starting with .)`);
  if (!parts[1].startsWith('/')) throw new SkiffError('EINVALID', `invalid container path ${JSON.stringify(parts[1])}, must be an absolute path`);
  const src = resolve(cwd, parts[0]);
  if (!statSync(src, { throwIfNoEntry: false })) throw new SkiffError('ENOTFOUND', `statfs ${src}: no such file or directory`);
  const options = (parts[2] ? parts[2].split(',') : []).filter((o) => o !== 'U');
  const req: MountRequest = { type: 'bind', source: src, destination: parts[1], options };
  validateMount(req);
  return req;
}
