/**
 * The network of one RUN step. Each RUN gets a fresh sandbox ID (64 hex digits, random); its first 12 digits are
 * the step's hostname, as buildah names a RUN after its container ID, never the host's name. Modes:
 *   private  (the default, buildah's `--network private`; also `RUN --network=default`): a network namespace of its
 *            own with outbound access, through the same library run-tool uses (shared/network): as root, a named
 *            netns joined to netavark's bridge (default network "podman", NAT out, an IP from the store's IPAM);
 *            rootless, pasta, attached between `runc create` and `runc start` through the createRuntime hook. The
 *            host's loopback services are out of reach (127.0.0.1 inside is the namespace's own `lo`).
 *   <name>   buildah's `--network NAME`: the same, on that (rootful) netavark network.
 *   none     a namespace with only `lo` (made by runc).
 *   host     the host's namespace: only when asked, by `build-tool build --network host` (buildah's flag — the
 *            command line is the opt-in) or by `RUN --network=host` with `--allow network.host` (BuildKit's
 *            entitlement rule, checked by checkEntitlements before any RUN runs — BU-11). buildah 1.28 itself
 *            refuses every RUN flag but --mount; RUN --network is BuildKit's, and so is its rule.
 * One namespace per RUN, as buildah: steps never share network state (an address a step bound, a route it added),
 * and the set-up cost is small next to a RUN (see README). The sandbox ID is named in the build's state dir before
 * anything is made and the attachment record names the build as owner, so a killed build's namespace is deleted by
 * its watchdog and its netavark state and IP are released by the next reclaim (build-dir.ts, BU-17).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { SkiffError } from '../../shared/errors.ts';
import { attachNetwork, detachNetwork } from '../../shared/network/attach.ts';
import { checkNetworkName } from '../../shared/network/network-config.ts';
import { pastaHook, servePastaHook } from '../../shared/network/pasta-hook.ts';
import type { NetworkState } from '../../shared/network/types.ts';
import type { EtcFilesOptions } from '../../shared/runtime/etc-files.ts';
import { isRootless } from '../../shared/runtime/rootless.ts';
import { buildNetworkOwner, type BuildDir } from './build-dir.ts';

/** The default `--network` of a build: a private namespace per RUN, as buildah. */
export const DEFAULT_BUILD_NETWORK = 'private';

/**
 * Validates `build-tool build --network MODE` as buildah 1.28 reads it: `private` (the default), `host`, `none`, or
 * a network name (rootful; it must exist when a RUN uses it). `ns:PATH` is not supported. Returns the mode. Pure.
 */
export function parseBuildNetwork(mode: string): string {
  if (mode === 'private' || mode === 'host' || mode === 'none') return mode;
  if (mode === 'bridge' || mode === 'default') return DEFAULT_BUILD_NETWORK;
  if (mode.startsWith('ns:') || mode.startsWith('container:')) {
    throw new SkiffError('EUNSUPPORTED', `--network ${mode} is not supported`, { hint: 'use private (the default), host, none or a network name' });
  }
  try {
    return checkNetworkName(mode);
  } catch {
    throw new SkiffError('EINVALID', `invalid --network ${JSON.stringify(mode)}`, { hint: 'use private (the default), host, none or a network name' });
  }
}

/** The mode a RUN uses: its own `--network=none|host`, or for `default` the build's `--network` (private). Pure. */
export function runNetworkMode(runFlag: 'default' | 'none' | 'host', buildNetwork: string | undefined): string {
  return runFlag === 'default' ? (buildNetwork ?? DEFAULT_BUILD_NETWORK) : runFlag;
}

/** A RUN step's network, from openRunNetwork; release() it after the container is deleted (also on failure). */
export interface RunNetwork {
  /** the sandbox ID (64 hex digits) */
  readonly id: string;
  /** the step's hostname: the sandbox ID's short form */
  readonly hostname: string;
  /** for buildSpec: 'bridge' with netnsPath joins a prepared namespace; 'bridge' without one (pasta) or 'none' get a fresh one */
  readonly spec: { network: 'none' | 'host' | 'bridge'; netnsPath?: string };
  /** for writeEtcFiles: the container's address and gateway in /etc/hosts, DNS servers in /etc/resolv.conf */
  readonly etc: Pick<EtcFilesOptions, 'network' | 'containerIP' | 'hostGatewayIP' | 'dns' | 'dnsSearch'>;
  /** a createRuntime hook the spec must carry (rootless pasta), served by serve() while runc runs */
  readonly hook?: { path: string; args: string[]; timeout: number };
  /** Call while runc runs (no-op unless `hook`): attaches pasta when the hook reports the pid; rejects if that fails. */
  serve(done: () => boolean): Promise<void>;
  /** Tears the network down (netavark teardown, netns, IP; or pasta). Idempotent. */
  release(): Promise<void>;
}

/**
 * Prepares the network of one RUN in mode `mode` (see the module comment; `runNetworkMode` resolves it). For the
 * rootful bridge the namespace is set up here, before runc runs; for rootless pasta it is attached by serve().
 * On failure nothing is left attached.
 */
export async function openRunNetwork(bd: BuildDir, mode: string, o: { signal?: AbortSignal } = {}): Promise<RunNetwork> {
  const id = randomBytes(32).toString('hex');
  const hostname = id.slice(0, 12);
  const base = { id, hostname, serve: async () => {}, release: async () => {} };
  if (mode === 'none' || mode === 'host') return { ...base, spec: { network: mode }, etc: { network: mode } };
  const rootless = isRootless();
  const plan = { ports: [], hostname, containerName: hostname, owner: buildNetworkOwner(bd.id) };
  const opts = { root: bd.storeRoot, rootless };
  let state: NetworkState | undefined;
  const release = async (): Promise<void> => {
    await detachNetwork(id, state, opts);
    await bd.forgetNetwork(id);
  };
  await bd.noteNetwork(id);
  if (rootless) {
    if (mode !== DEFAULT_BUILD_NETWORK) {
      await bd.forgetNetwork(id);
      throw new SkiffError('EPERM', `--network ${mode}: joining a named network needs root`, { hint: 'rootless builds use --network private (pasta), none or host' });
    }
    const dir = bd.path('net');
    await mkdir(dir, { mode: 0o700 });
    return {
      ...base,
      spec: { network: 'bridge' },
      etc: { network: 'bridge' },
      hook: pastaHook(dir),
      serve: async (done) => {
        state = await servePastaHook(dir, done, (pid) => attachNetwork(id, { mode: 'pasta', ...plan }, { ...opts, pid, ...(o.signal && { signal: o.signal }) }));
      },
      release,
    };
  }
  try {
    state = await attachNetwork(id, { mode: 'bridge', networks: [mode === DEFAULT_BUILD_NETWORK ? 'podman' : mode], ...plan }, { ...opts, ...(o.signal && { signal: o.signal }) });
  } catch (e) {
    // attachNetwork undid its own partial set-up
    await bd.forgetNetwork(id);
    throw e;
  }
  return {
    ...base,
    spec: { network: 'bridge', netnsPath: state.netnsPath! },
    etc: {
      network: 'bridge',
      ...(state.ips[0] !== undefined && { containerIP: state.ips[0] }),
      ...(state.gateway !== undefined && { hostGatewayIP: state.gateway }),
      ...(state.dnsServers.length > 0 && { dns: state.dnsServers }),
      ...(state.dnsSearchDomains.length > 0 && { dnsSearch: state.dnsSearchDomains }),
    },
    release,
  };
}
