/**
 * The network of a RUN step. Modes:
 *   private  (the default, buildah's `--network private`; also `RUN --network=default`): a network namespace that is
 *            not the host's, with outbound access, through the library run-tool uses (shared/network): as root, a
 *            named netns joined to netavark's bridge (default network "podman", NAT out, an IP from the store's
 *            IPAM); rootless, pasta, attached to the RUN's own namespace between `runc create` and `runc start`
 *            through the createRuntime hook. The host's loopback services are out of reach (127.0.0.1 inside is the
 *            namespace's own `lo`).
 *   <name>   buildah's `--network NAME`: the same, on that (rootful) netavark network.
 *   none     a namespace with only `lo` (made by runc for each RUN).
 *   host     the host's namespace: only when asked, by `build-tool build --network host` (buildah's flag — the
 *            command line is the opt-in) or by `RUN --network=host` with `--allow network.host` (BuildKit's
 *            entitlement rule, checked by checkEntitlements before any RUN runs — BU-11). buildah 1.28 itself
 *            refuses every RUN flag but --mount; RUN --network is BuildKit's, and so is its rule.
 * The hostname is the short form (12 hex digits) of a random sandbox ID per stage, as buildah names every RUN of a
 * stage after the stage's working container: never the host's name.
 *
 * One bridge namespace per build, not per RUN. buildah sets up a namespace per RUN; measured here (a 3-RUN build
 * against --network host, loaded 2-core VM, medians of 7) that added ~0.35 s per RUN, nearly all of it netavark
 * creating and then removing the bridge and its firewall chains because no other container holds the network;
 * one namespace per build adds ~0.4 s once. So the build's RUN steps share one namespace
 * (made at the first RUN that needs it, torn down when the build ends), as BuildKit reuses pooled namespaces. What
 * is shared is harmless: each RUN has its own PID, mount, IPC and UTS namespaces, so no process of one step outlives
 * it, and RUN has no CAP_NET_ADMIN to change the namespace's interfaces, routes or firewall. Rootless, pasta joins
 * each RUN's own namespace (there the namespace is runc's and costs nothing; pasta's start-up is the cost).
 * The namespace's ID is named in the build's state dir before anything is made and its attachment record names
 * the build as owner, so a killed build's namespace is deleted by its watchdog and its netavark state and IP are
 * released by the next reclaim (build-dir.ts, BU-17).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { SkiffError, type Cancellable } from '../../errors.ts';
import { checkNetworkName } from '../../network/network-config.ts';
import type { NetworkState } from '../../network/types.ts';
import type { EtcFilesOptions } from '../../runtime/etc-files.ts';
import { isRootless } from '../../runtime/rootless.ts';
import { buildNetworkOwner, type BuildDir } from './build-dir.ts';

/** The default `--network` of a build: RUN steps in a namespace that is not the host's, as buildah. */
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
  /** the step's hostname: its stage's sandbox ID in short form */
  readonly hostname: string;
  /** for buildSpec: 'bridge' with netnsPath joins a prepared namespace; 'bridge' without one (pasta) or 'none' get a fresh one */
  readonly spec: { network: 'none' | 'host' | 'bridge'; netnsPath?: string };
  /** for writeEtcFiles: the container's address and gateway in /etc/hosts, DNS servers in /etc/resolv.conf */
  readonly etc: Pick<EtcFilesOptions, 'network' | 'containerIP' | 'hostGatewayIP' | 'dns' | 'dnsSearch'>;
  /** a createRuntime hook the spec must carry (rootless pasta), served by serve() while runc runs */
  readonly hook?: { path: string; args: string[]; timeout: number };
  /** Call while runc runs (no-op unless `hook`): attaches pasta when the hook reports the pid; rejects if that fails. */
  serve(done: () => boolean): Promise<void>;
  /** Releases what is the step's own (pasta); the build's bridge namespace stays until the build ends. Idempotent. */
  release(): Promise<void>;
}

/** Per build: the stages' sandbox IDs and the shared bridge namespace (a promise, so parallel stages make one). */
interface BuildNetworks {
  stages: Map<number, string>;
  bridge?: Promise<NetworkState>;
}
const builds = new WeakMap<BuildDir, BuildNetworks>();

function networksOf(bd: BuildDir): BuildNetworks {
  let n = builds.get(bd);
  if (n === undefined) builds.set(bd, (n = { stages: new Map() }));
  return n;
}

function newId(): string {
  return randomBytes(32).toString('hex');
}

/** The sandbox ID of stage `stageIndex` of the build (random, made once). */
function stageId(bd: BuildDir, stageIndex: number): string {
  const n = networksOf(bd);
  let id = n.stages.get(stageIndex);
  if (id === undefined) n.stages.set(stageIndex, (id = newId()));
  return id;
}

/**
 * Attaches the build's bridge namespace on network `name` (rootful), once per build: concurrent callers share the
 * attempt, a failed attempt is forgotten so the next RUN retries. Named in the state dir first (watchdog); owned by
 * the build (reclaim); detached by the build's close (cleanBuildDir).
 */
function buildBridge(bd: BuildDir, name: string, o: Cancellable): Promise<NetworkState> {
  const n = networksOf(bd);
  if (n.bridge !== undefined) return n.bridge;
  const id = newId();
  const attempt = (async () => {
    await bd.noteNetwork(id);
    const { attachNetwork } = await import('../../network/attach.ts');
    try {
      return await attachNetwork(id, { mode: 'bridge', networks: [name], ports: [], hostname: id.slice(0, 12), owner: buildNetworkOwner(bd.id) }, { root: bd.storeRoot, rootless: false, signal: o.signal });
    } catch (e) {
      // attachNetwork undid its own partial set-up
      await bd.forgetNetwork(id);
      throw e;
    }
  })();
  n.bridge = attempt;
  attempt.catch(() => {
    if (n.bridge === attempt) delete n.bridge;
  });
  return attempt;
}

/**
 * Prepares the network of one RUN of stage `stageIndex` in mode `mode` (see the module comment; `runNetworkMode`
 * resolves it). The rootful bridge namespace is ready when this returns; rootless pasta is attached by serve().
 * On failure nothing of the step is left attached.
 */
export async function openRunNetwork(bd: BuildDir, mode: string, stageIndex: number, o: Cancellable = {}): Promise<RunNetwork> {
  // the attach code loads only here, when a RUN step opens a network (a cached build never does)
  const [{ attachNetwork, detachNetwork }, { pastaHook, servePastaHook }] = await Promise.all([import('../../network/attach.ts'), import('../../network/pasta-hook.ts')]);
  const hostname = stageId(bd, stageIndex).slice(0, 12);
  const base = { hostname, serve: async () => {}, release: async () => {} };
  if (mode === 'none' || mode === 'host') return { ...base, spec: { network: mode }, etc: { network: mode } };
  const name = mode === DEFAULT_BUILD_NETWORK ? 'podman' : mode;
  if (!isRootless()) {
    const state = await buildBridge(bd, name, o);
    return {
      ...base,
      spec: { network: 'bridge', netnsPath: state.netnsPath! },
      etc: {
        network: 'bridge',
        containerIP: state.ips[0],
        hostGatewayIP: state.gateway,
        ...(state.dnsServers.length > 0 && { dns: state.dnsServers }),
        ...(state.dnsSearchDomains.length > 0 && { dnsSearch: state.dnsSearchDomains }),
      },
    };
  }
  if (mode !== DEFAULT_BUILD_NETWORK) {
    throw new SkiffError('EPERM', `--network ${mode}: joining a named network needs root`, { hint: 'rootless builds use --network private (pasta), none or host' });
  }
  // rootless: pasta joins this RUN's own namespace (runc's), so the attachment is the step's
  const id = newId();
  const opts = { root: bd.storeRoot, rootless: true };
  const dir = bd.path('net');
  await mkdir(dir, { mode: 0o700 });
  await bd.noteNetwork(id);
  let state: NetworkState | undefined;
  return {
    ...base,
    spec: { network: 'bridge' },
    etc: { network: 'bridge' },
    hook: pastaHook(dir),
    serve: async (done) => {
      state = await servePastaHook(dir, done, (pid) => attachNetwork(id, { mode: 'pasta', ports: [], hostname, owner: buildNetworkOwner(bd.id) }, { ...opts, pid, signal: o.signal }));
    },
    release: async () => {
      await detachNetwork(id, state, opts);
      await bd.forgetNetwork(id);
    },
  };
}
