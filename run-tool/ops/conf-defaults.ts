// containers.conf's [containers] defaults applied to one container's options, under podman's rule: what the
// command line (or API body) sets wins; the configuration fills in the rest.
import type { ContainersConf } from '../../shared/config/containers-conf.ts';
import { DEFAULT_CAPS, normalizeCap } from '../../shared/runtime/capabilities.ts';
import { parseUlimit } from '../../shared/runtime/rlimits.ts';
import { parseVolume } from './create-values.ts';
import type { CreateOptions } from '../containers/create-options.ts';
import { cgroupManager } from '../../shared/runtime/cgroup-manager.ts';
import { ociRuntime } from '../../shared/runtime/oci-runtime.ts';

/**
 * containers.conf's [engine]/[network] choices checked before a container is made, so a bad one fails with one
 * line and leaves nothing behind: the OCI runtime must exist (ociRuntime), `cgroup_manager = "systemd"` needs
 * systemd as init (root only: rootless containers get no cgroups here), and `network_backend = "cni"` is told
 * through `onWarning` that skiff's networks are netavark's. Reads file modes only.
 */
export function checkEngineConf(c: ContainersConf, rootless: boolean, onWarning?: (message: string) => void): void {
  ociRuntime(c);
  if (!rootless) cgroupManager(c);
  if (c.networkBackend === 'cni') onWarning?.('network_backend "cni" is not supported: skiff sets up container networks with netavark');
}

/**
 * `o` with containers.conf's defaults filled in: `env` goes before the container's own (later entries win),
 * `volumes` add mounts at destinations the container does not already mount, `dns_*` apply when no --dns* flag
 * is given, `default_sysctls` and `default_ulimits` add the names the container does not set (net.* sysctls
 * not for a host network), `pids_limit` applies when --pids-limit is absent (root only: rootless containers get
 * no cgroup limits here), `default_network` picks the network when none is given (`podman`, the built-in
 * bridge's name, changes nothing), `init_path` and `shm_size` fill the init binary and /dev/shm size, and `default_capabilities` replaces the default capability set (expressed
 * as additions and removals so --cap-add/--cap-drop still apply on top). Pure but for stat-ing bind sources.
 */
export function withConfDefaults<T extends CreateOptions>(o: T, c: ContainersConf, rootless: boolean): T {
  const out: T = { ...o };
  if (c.env?.length) out.env = [...c.env, ...(o.env ?? [])];
  if (c.volumes?.length) {
    const taken = new Set([...(o.mounts ?? []), ...(o.volumes ?? [])].map((m) => m.destination));
    const mounts = [...(o.mounts ?? [])];
    const volumes = [...(o.volumes ?? [])];
    for (const v of c.volumes) {
      const r = parseVolume(v);
      const dst = r.mount?.destination ?? r.volume?.destination;
      if (dst === undefined || taken.has(dst)) continue;
      if (r.mount) mounts.push(r.mount);
      if (r.volume) volumes.push(r.volume);
    }
    out.mounts = mounts;
    out.volumes = volumes;
  }
  if (c.dnsServers?.length && !o.dns?.length) out.dns = c.dnsServers;
  if (c.dnsSearches?.length && !o.dnsSearch?.length) out.dnsSearch = c.dnsSearches;
  if (c.dnsOptions?.length && !o.dnsOptions?.length) out.dnsOptions = c.dnsOptions;
  const network = o.network ?? (c.defaultNetwork && c.defaultNetwork !== 'podman' ? c.defaultNetwork : undefined);
  if (network !== undefined && o.shareNamespaces?.network === undefined) out.network = network;
  if (c.defaultSysctls?.length) {
    const sysctls = { ...(o.sysctls ?? {}) };
    for (const s of c.defaultSysctls) {
      const i = s.indexOf('=');
      if (i <= 0) continue;
      const k = s.slice(0, i).trim();
      if (k in sysctls || (k.startsWith('net.') && (network === 'host' || o.shareNamespaces?.network !== undefined))) continue;
      sysctls[k] = s.slice(i + 1).trim();
    }
    out.sysctls = sysctls;
  }
  if (c.defaultUlimits?.length) {
    const have = new Set((o.ulimits ?? []).map((u) => u.type));
    out.ulimits = [...(o.ulimits ?? []), ...c.defaultUlimits.map(parseUlimit).filter((u) => !have.has(u.type))];
  }
  if (c.initPath && o.initPath === undefined) out.initPath = c.initPath;
  if (c.shmSize !== undefined && o.shmSize === undefined) out.shmSize = c.shmSize;
  if (c.pidsLimit !== undefined && c.pidsLimit > 0 && o.pidsLimit === undefined && !rootless) out.pidsLimit = c.pidsLimit;
  if (c.defaultCapabilities && !o.privileged) {
    const want = new Set(c.defaultCapabilities.map(normalizeCap));
    const builtIn = new Set(DEFAULT_CAPS.map(normalizeCap));
    const userDrop = new Set((o.capDrop ?? []).map(normalizeCap));
    out.capAdd = [...(o.capAdd ?? []), ...[...want].filter((x) => !builtIn.has(x) && !userDrop.has(x) && !userDrop.has('ALL'))];
    out.capDrop = [...(o.capDrop ?? []), ...[...builtIn].filter((x) => !want.has(x))];
  }
  return out;
}
