import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { SkiffError, throwIfAborted } from '../errors.ts';
import { isRootless } from '../runtime/rootless.ts';
import { usernsMarker } from '../runtime/userns-marker.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { ensureNetworkDirs, networkPaths } from './network-config.ts';
import { requireProgram } from '../process/system-programs.ts';
import { procStat } from '../process/proc.ts';
import { portIsFree } from './publish.ts';
import type { NetworkOptions, NetworkPlan, NetworkState, PortMapping } from './types.ts';

/** pasta's port spec for one mapping: `[addr/]host[-end]:ctr[-end]`. Pure. */
export function pastaPortSpec(p: PortMapping): string {
  const n = p.range ?? 1;
  const host = n > 1 ? `${p.hostPort}-${p.hostPort + n - 1}` : `${p.hostPort}`;
  const ctr = n > 1 ? `${p.containerPort}-${p.containerPort + n - 1}` : `${p.containerPort}`;
  return `${p.hostIp ? `${p.hostIp}/` : ''}${host}:${ctr}`;
}

/**
 * The pasta arguments for a container's published ports; nothing else is forwarded either way. A numeric `target`:
 * pasta joins the user and network namespaces of that pid (the rootless container's); a path: only that network
 * namespace (pasta already runs in its user namespace), kept until pasta is killed on detach. Pure.
 */
export function pastaArgs(ports: readonly PortMapping[], target: number | string): string[] {
  const args = ['--config-net', '--foreground', '--quiet', '-T', 'none', '-U', 'none'];
  const tcp = ports.filter((p) => p.protocol === 'tcp');
  const udp = ports.filter((p) => p.protocol === 'udp');
  if (tcp.length === 0) args.push('-t', 'none');
  for (const p of tcp) args.push('-t', pastaPortSpec(p));
  if (udp.length === 0) args.push('-u', 'none');
  for (const p of udp) args.push('-u', pastaPortSpec(p));
  return typeof target === 'number' ? [...args, String(target)] : [...args, '--netns', target, '--no-netns-quit'];
}

/**
 * What pasta gives the container (it copies the host's default-route interface): that interface's first IPv4
 * address (the container's) and the default gateway, which pasta maps to the host's loopback — so
 * `host.containers.internal` names the gateway. From /proc/net/route text and the interfaces list. Pure.
 */
export function pastaAddresses(routeText: string, ifaces: NodeJS.Dict<{ family: string | number; address: string; internal: boolean }[]>): { ip?: string; gateway?: string } {
  for (const line of routeText.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[1] !== '00000000' || f[7] !== '00000000') continue;
    const hex = f[2] ?? '';
    if (!/^[0-9A-Fa-f]{8}$/.test(hex)) continue;
    const gateway = [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
    const ip = (ifaces[f[0]!] ?? []).find((a) => (a.family === 'IPv4' || a.family === 4) && !a.internal)?.address;
    return { ...(ip !== undefined && { ip }), ...(gateway !== '0.0.0.0' && { gateway }) };
  }
  return {};
}

/** Whether `pid` is a live (not zombie) pasta process. */
function isPasta(pid: number): boolean {
  // Debian's pasta is passt re-exec'ing its AVX2 build: comm is "pasta", "passt" or "passt.avx2"
  const st = procStat(pid);
  return !!st && /^pas(ta|st)/.test(st.comm) && st.state !== 'Z';
}

/**
 * Rootless (or rootful) user-mode networking through pasta: joins the network (and user) namespace of the created
 * container `o.pid`, configures its interface from the host's, forwards the published ports from the host
 * (`-t 127.0.0.1/8080:80`). pasta runs detached, outliving the CLI, and exits when the namespace goes away; its
 * PID is recorded before it is waited on. Needs /dev/net/tun usable by the caller (`chmod 666 /dev/net/tun` for
 * ordinary users; EPERM with that hint otherwise). Root gets EUNSUPPORTED (use the bridge).
 */
export async function attachPasta(containerId: string, plan: NetworkPlan, ports: PortMapping[], o: NetworkOptions): Promise<NetworkState> {
  if (!o.pid || !Number.isInteger(o.pid) || o.pid < 1) {
    throw new SkiffError('EINVALID', 'pasta networking needs the PID of the created container', { hint: 'call attachNetwork after runc create and before runc start' });
  }
  if (!isRootless()) {
    // real root: pasta drops to "nobody" and then cannot join the container's namespaces. Root of skiff's rootless
    // user namespace is fine: pasta sees a non-initial uid_map and keeps its identity
    throw new SkiffError('EUNSUPPORTED', 'pasta networking is for rootless containers', { hint: 'as root use the bridge network (--network bridge), or none/host' });
  }
  const pasta = requireProgram('pasta');
  const p = networkPaths(o.root);
  await ensureNetworkDirs(p);
  // stderr goes to a file, not a pipe: pasta outlives us and must never get SIGPIPE
  const logFile = join(p.attachments, `${containerId}.pasta.log`);
  const fd = openSync(logFile, 'w', 0o600);
  // Inside skiff's rootless user namespace pasta runs as its root but without CAP_SYS_PTRACE (pasta drops it), so it
  // cannot open /proc/PID/ns/* of the container's init (runc keeps it non-dumpable until exec): we open the network
  // namespace for it and hand it over as fd 3; pasta joins only that (it already is in the owning user namespace).
  let nsFd: number | undefined;
  let child: ReturnType<typeof spawn>;
  try {
    if (usernsMarker() !== undefined) nsFd = openSync(`/proc/${o.pid}/ns/net`, 'r');
    const args = nsFd === undefined ? pastaArgs(ports, o.pid) : pastaArgs(ports, '/proc/self/fd/3');
    child = spawn(pasta, args, { detached: true, stdio: ['ignore', 'ignore', fd, ...(nsFd === undefined ? [] : [nsFd])] });
  } finally {
    closeSync(fd);
    if (nsFd !== undefined) closeSync(nsFd);
  }
  const spawned = await new Promise<number>((resolve, reject) => {
    child.once('error', (e) => reject(new SkiffError('ENODEP', `cannot run pasta: ${e.message}`)));
    child.once('spawn', () => resolve(child.pid!));
  });
  const rec = { containerId, mode: 'pasta' as const, networks: [], ownsNetns: false, ips: {}, helperPid: spawned, ...(plan.owner && { owner: plan.owner }) };
  await writeFileAtomic(join(p.attachments, `${containerId}.json`), JSON.stringify(rec), 0o600);
  // pasta is ready once its host-side forwards are bound: poll them (bounded), watching for an early exit
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? 1;
  });
  const tcp = ports.filter((x) => x.protocol === 'tcp');
  const deadline = Date.now() + 2000;
  try {
    for (;;) {
      await sleep(20, undefined, { signal: o.signal });
      if (exited !== null) break;
      if (tcp.length === 0 ? Date.now() > deadline - 1900 : !(await Promise.all(tcp.map((x) => portIsFree('tcp', x.hostPort, x.hostIp)))).some(Boolean)) break;
      if (Date.now() > deadline) break;
    }
  } catch (e) {
    // cancelled while waiting: nobody will own this pasta, so it goes now, with its record
    child.kill('SIGKILL');
    await rm(join(p.attachments, `${containerId}.json`), { force: true });
    throwIfAborted(o.signal);
    throw e;
  }
  child.unref();
  if (exited !== null) {
    await rm(join(p.attachments, `${containerId}.json`), { force: true });
    const msg = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').filter((l) => l && !/syslog/.test(l)).pop() ?? `exit ${exited}`;
    const tun = /tun/i.test(msg);
    throw new SkiffError(tun ? 'EPERM' : 'EIO', `pasta failed: ${msg}`, tun ? { hint: 'make /dev/net/tun usable: chmod 666 /dev/net/tun (as root)' } : {});
  }
  const addr = pastaAddresses(await readFile('/proc/net/route', 'utf8').catch(() => ''), networkInterfaces());
  return { mode: 'pasta', ips: addr.ip ? [addr.ip] : [], ...(addr.gateway && { gateway: addr.gateway }), dnsServers: plan.dns ?? [], dnsSearchDomains: [], ports, networks: [], helperPid: spawned, ownsNetns: false };
}

/**
 * Stops a container's pasta (only if that PID still is a pasta process): SIGTERM, then SIGKILL after a second —
 * at once when `o.signal` aborts meanwhile. Idempotent.
 */
export async function detachPasta(_containerId: string, pid: number | undefined, o: NetworkOptions): Promise<void> {
  if (!pid || !isPasta(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
  for (let i = 0; i < 50 && isPasta(pid) && !o.signal?.aborted; i++) await sleep(20, undefined, { signal: o.signal }).catch(() => {});
  if (isPasta(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
