// The value strings of create's options as both front ends write them — the CLI's `--restart`, `-p`, `-v` and the
// Docker API's RestartPolicy name, PortBindings and Binds entries — parsed one way. Pure but for parseVolume's
// check that a bind source exists.
import { SkiffError } from '../../shared/errors.ts';
import { parseHostBind, type MountRequest } from '../../shared/runtime/mounts.ts';
import type { PortMapping, RestartPolicy } from '../containers/state.ts';

/** Parses `--restart`. */
export function parseRestart(s: string): RestartPolicy {
  const m = /^(no|always|unless-stopped|on-failure)(?::([0-9]+))?$/.exec(s);
  if (!m || (m[2] !== undefined && m[1] !== 'on-failure')) throw new SkiffError('EINVALID', `invalid restart policy ${JSON.stringify(s)}: want no, on-failure[:max-retries], always or unless-stopped`);
  return { name: m[1] as RestartPolicy['name'], maximumRetryCount: Number(m[2] ?? 0) };
}

/** Parses `-p [ip:][hostPort:]containerPort[/proto]` (ranges not supported). */
export function parsePort(s: string): PortMapping {
  const m = /^(?:(?:(\[[0-9a-fA-F:.]+\]|[0-9.]+):)?([0-9]*):)?([0-9]+)(?:\/(tcp|udp|sctp))?$/.exec(s);
  if (!m) throw new SkiffError('EINVALID', `invalid port ${JSON.stringify(s)}: want [ip:][hostPort:]containerPort[/protocol]`);
  const containerPort = Number(m[3]);
  const hostPort = m[2] ? Number(m[2]) : 0;
  if (containerPort < 1 || containerPort > 65535 || hostPort > 65535) throw new SkiffError('EINVALID', `invalid port ${JSON.stringify(s)}: out of range`);
  return { hostIP: (m[1] ?? '').replace(/^\[|\]$/g, ''), hostPort, containerPort, protocol: (m[4] ?? 'tcp') as PortMapping['protocol'] };
}

/**
 * Parses `-v SRC:DST[:OPTS]`: absolute SRC is a bind mount; anything else a named volume (volumes hook). A lone
 * absolute `-v /path` is an anonymous volume (podman's): returned as a volume with name '' (createContainer names
 * it and removes it with the container on `rm -v` / `--rm`).
 */
export function parseVolume(s: string): { mount?: MountRequest; volume?: { name: string; destination: string; options: string[] } } {
  const parts = s.split(':');
  if (parts.length === 1 && parts[0]!.startsWith('/')) return { volume: { name: '', destination: parts[0]!, options: [] } };
  if (parts.length === 1 && parts[0]) throw new SkiffError('EINVALID', `invalid container path ${JSON.stringify(parts[0])}, must be an absolute path`);
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw new SkiffError('EINVALID', `invalid volume ${JSON.stringify(s)}: want SRC:DST[:OPTIONS]`);
  if (!parts[1].startsWith('/')) throw new SkiffError('EINVALID', `invalid container path ${JSON.stringify(parts[1])}, must be an absolute path`);
  const options = parts[2] ? parts[2].split(',') : [];
  if (parts[0].startsWith('/') || parts[0].startsWith('.')) return { mount: parseHostBind(s) };
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(parts[0])) throw new SkiffError('EINVALID', `invalid volume name ${JSON.stringify(parts[0])}`);
  return { volume: { name: parts[0], destination: parts[1], options } };
}
