import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { SkiffError } from '../errors.ts';
import type { PortMapping } from './types.ts';

function bad(msg: string): SkiffError {
  return new SkiffError('EINVALID', msg, { hint: 'the format is -p [[hostIP:][hostPort]:]containerPort[/protocol]' });
}

function parsePort(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw bad(`invalid port number: ${JSON.stringify(s)}`);
  const n = Number(s);
  if (n < 1 || n > 65535) throw bad(`port numbers must be between 1 and 65535 (inclusive), got ${n}`);
  return n;
}

/** "start" or "start-end" → [start, length]; podman's rules and messages. */
function parseRange(s: string): [number, number] {
  const parts = s.split('-');
  if (parts.length > 2) throw bad('invalid port format - port ranges are formatted as startPort-stopPort');
  if (parts[0] === '') throw bad('port numbers cannot be negative');
  const start = parsePort(parts[0]!);
  if (parts.length === 1) return [start, 1];
  if (parts[1] === '') throw bad('must provide ending number for port range');
  const end = parsePort(parts[1]!);
  if (end <= start) throw bad(`the end port of a range must be higher than the start port - ${end} is not higher than ${start}`);
  return [start, end - start + 1];
}

/**
 * Parses one `-p/--publish` value as podman 4 does: `[[hostIP:][hostPort]:]containerPort[/protocol]`, IPv6 host
 * addresses in brackets (`[::1]:8080:80`), ranges (`8000-8010:80-90`, equal lengths), `hostIP::ctrPort` or a bare
 * container port meaning a random host port (hostPort 0, resolved by allocatePorts), `0.0.0.0` meaning all
 * addresses (hostIp left unset), and `tcp,udp` expanding to one mapping per protocol. Pure; throws EINVALID with
 * podman's message, EUNSUPPORTED for sctp.
 */
export function parsePublish(spec: string): PortMapping[] {
  const protoSplit = spec.split('/');
  if (protoSplit.length > 2) throw bad('invalid port format - protocol can only be specified once');
  let protocols: Array<'tcp' | 'udp'> = ['tcp'];
  if (protoSplit.length === 2) {
    const p = protoSplit[1]!;
    if (p === '') throw bad('must provide a non-empty protocol to publish');
    protocols = [];
    for (const one of p.split(',')) {
      const l = one.toLowerCase();
      if (l === 'tcp' || l === 'udp') {
        if (!protocols.includes(l)) protocols.push(l);
      } else if (l === 'sctp') throw new SkiffError('EUNSUPPORTED', 'sctp port publishing is not supported');
      else throw bad(`unrecognized protocol ${JSON.stringify(one)} in port mapping`);
    }
  }
  let remainder = protoSplit[0]!;
  let hostIp: string | undefined;
  let haveV6 = false;
  const v6 = remainder.split(']');
  if (v6.length === 2) {
    haveV6 = true;
    if (!v6[0]!.startsWith('[')) throw bad('invalid port format - IPv6 addresses must be enclosed by []');
    if (!v6[1]!.startsWith(':')) throw bad("invalid port format - IPv6 address must be followed by a colon (':')");
    hostIp = v6[0]!.slice(1);
    remainder = v6[1]!.slice(1);
  } else if (v6.length > 2) {
    throw bad('invalid port format - at most one IPv6 address can be specified in a --publish');
  }
  const parts = remainder.split(':');
  let hostPort: string | undefined;
  let ctrPort: string;
  if (parts.length === 1) {
    if (haveV6) throw bad('invalid port format - must provide host and destination port if specifying an IP');
    ctrPort = parts[0]!;
  } else if (parts.length === 2) {
    [hostPort, ctrPort] = parts as [string, string];
  } else if (parts.length === 3) {
    if (haveV6) throw bad('invalid port format - when v6 address specified, must be [ipv6]:hostPort:ctrPort');
    [hostIp, hostPort, ctrPort] = parts as [string, string, string];
  } else {
    throw bad('invalid port format - format is [[hostIP:]hostPort:]containerPort');
  }
  if (ctrPort === '') throw bad('must provide a non-empty container port to publish');
  let ctr: [number, number];
  try {
    ctr = parseRange(ctrPort);
  } catch (e) {
    throw bad(`parsing container port: ${(e as Error).message}`);
  }
  let ip: string | undefined;
  if (hostIp !== undefined) {
    if (hostIp === '') throw bad('must provide a non-empty container host IP to publish');
    if (hostIp !== '0.0.0.0') {
      if (isIP(hostIp) === 0) throw bad(`cannot parse ${JSON.stringify(hostIp)} as an IP address`);
      ip = hostIp;
    }
  }
  let host = 0;
  if (hostPort !== undefined && hostPort !== '') {
    let h: [number, number];
    try {
      h = parseRange(hostPort);
    } catch (e) {
      throw bad(`parsing host port: ${(e as Error).message}`);
    }
    if (h[1] !== ctr[1]) throw bad(`host and container port ranges have different lengths: ${h[1]} vs ${ctr[1]}`);
    host = h[0];
  }
  return protocols.map((protocol) => ({
    ...(ip !== undefined && { hostIp: ip }),
    hostPort: host,
    containerPort: ctr[0],
    protocol,
    ...(ctr[1] > 1 && { range: ctr[1] }),
  }));
}

/** Parses an image ExposedPorts key ("80/tcp", "53/udp", "8080", "8000-8002/tcp") into [port, length, protocol]. */
export function parseExposedPort(key: string): { containerPort: number; range: number; protocol: 'tcp' | 'udp' } | undefined {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(key.trim());
  if (!m) return undefined;
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (proto === 'sctp') return undefined;
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : start;
  if (start < 1 || start > 65535 || end < start || end > 65535) return undefined;
  return { containerPort: start, range: end - start + 1, protocol: proto as 'tcp' | 'udp' };
}

/** Asks the kernel for a free port on `ip` (default all addresses) for `protocol`; the socket is closed again. */
export async function freePort(protocol: 'tcp' | 'udp', ip?: string): Promise<number> {
  if (protocol === 'udp') {
    const s = createSocket(ip && isIP(ip) === 6 ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, ip ?? undefined, () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
  }
  const srv = createServer();
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ port: 0, host: ip ?? undefined, exclusive: true }, () => {
      const a = srv.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(p));
    });
  });
}

/** Whether `port` can be bound on `ip` (default all addresses) for `protocol` right now. */
export async function portIsFree(protocol: 'tcp' | 'udp', port: number, ip?: string): Promise<boolean> {
  try {
    if (protocol === 'udp') {
      const s = createSocket(ip && isIP(ip) === 6 ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(port, ip ?? undefined, () => s.close(() => resolve()));
      });
      return true;
    }
    const srv = createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ port, host: ip ?? undefined, exclusive: true }, () => srv.close(() => resolve()));
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves the host side of published ports, as podman does before setup: every mapping with hostPort 0 gets a
 * free port (a free run of `range` consecutive ports for ranges), and with `publishAll` (-P) each exposed port not
 * already published gets a random host port on all addresses. Explicit host ports are checked to be bindable
 * (EEXIST "address already in use" otherwise). Does not reserve the ports: the caller sets up forwarding at once.
 */
export async function allocatePorts(ports: readonly PortMapping[], o: { publishAll?: boolean; exposedPorts?: readonly string[]; signal?: AbortSignal } = {}): Promise<PortMapping[]> {
  const want: PortMapping[] = ports.map((p) => ({ ...p }));
  if (o.publishAll) {
    for (const key of o.exposedPorts ?? []) {
      const e = parseExposedPort(key);
      if (!e) throw new SkiffError('EINVALID', `invalid exposed port ${JSON.stringify(key)} in the image config`);
      const taken = want.some((p) => p.protocol === e.protocol && e.containerPort >= p.containerPort && e.containerPort < p.containerPort + (p.range ?? 1));
      if (!taken) want.push({ hostPort: 0, containerPort: e.containerPort, protocol: e.protocol, ...(e.range > 1 && { range: e.range }) });
    }
  }
  const used = new Set<string>();
  const out: PortMapping[] = [];
  for (const p of want) {
    o.signal?.throwIfAborted();
    const n = p.range ?? 1;
    if (p.hostPort === 0) {
      let found = 0;
      for (let attempt = 0; attempt < 50 && !found; attempt++) {
        const start = await freePort(p.protocol, p.hostIp);
        if (start + n - 1 > 65535) continue;
        let ok = true;
        for (let i = 0; i < n && ok; i++) {
          const k = `${p.protocol}/${start + i}`;
          if (used.has(k) || (i > 0 && !(await portIsFree(p.protocol, start + i, p.hostIp)))) ok = false;
        }
        if (ok) found = start;
      }
      if (!found) throw new SkiffError('EIO', `could not find ${n} free ${p.protocol} host port(s)`);
      p.hostPort = found;
    } else {
      for (let i = 0; i < n; i++) {
        const port = p.hostPort + i;
        if (used.has(`${p.protocol}/${port}`)) throw new SkiffError('EINVALID', `host port ${port}/${p.protocol} is published twice`);
        if (!(await portIsFree(p.protocol, port, p.hostIp))) {
          throw new SkiffError('EEXIST', `listen ${p.protocol} ${p.hostIp ?? '0.0.0.0'}:${port}: bind: address already in use`, { hint: 'pick another host port or stop what listens on it' });
        }
      }
    }
    for (let i = 0; i < n; i++) used.add(`${p.protocol}/${p.hostPort + i}`);
    out.push(p);
  }
  return out;
}
