// The networking contract between the container lifecycle (run/create/start/rm) and the network backends.
// Everything here is plain JSON-serialisable data: NetworkState is persisted in the container's state directory
// before setup runs, so teardown works after a killed CLI.

/** Network mode of one container, as podman's `--network`. */
export type NetworkMode = 'none' | 'host' | 'bridge' | 'pasta' | 'slirp4netns';

/**
 * One published port (`-p [ip:][hostPort:]containerPort[/proto]`). `range` (≥ 1, default 1) publishes
 * `range` consecutive ports starting at hostPort / containerPort. hostPort 0 means "pick a free port"
 * (resolved by allocatePorts before setup). hostIp undefined or '' means all addresses.
 */
export interface PortMapping {
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  range?: number;
}

/**
 * What the lifecycle asks for. `networks` are network names for bridge mode (default ["podman"] when undefined; an
 * empty list is a container whose last network was disconnected: its own namespace, no interface but lo, as podman).
 */
export interface NetworkPlan {
  mode: NetworkMode;
  networks?: string[];
  ports: PortMapping[];
  /** -P: publish every exposed port on a random host port. */
  publishAll?: boolean;
  /** Image ExposedPorts keys ("80/tcp", "53/udp", "8080") used by publishAll. */
  exposedPorts?: string[];
  /** --dns servers; when empty, the backend's DNS servers (aardvark) or the host's are used. */
  dns?: string[];
  hostname: string;
  /** Extra DNS names for this container on user networks (aardvark-dns); the name is always added. */
  aliases?: string[];
  /** Extra DNS names per network name (`network connect --alias`), on top of `aliases`. */
  networkAliases?: Record<string, string[]>;
  /** Container name used for DNS; defaults to hostname. */
  containerName?: string;
  /** Static IPs per network name (`--ip`). */
  staticIps?: Record<string, string[]>;
  /**
   * Who holds the attachment when it is not a run-tool container, e.g. `build:<build id>` for a build-tool RUN
   * step. Recorded in the attachment record so the holder's crash reclaim can find and detach what it left.
   */
  owner?: string;
}

/** One network the container joined (bridge mode). */
export interface AttachedNetwork {
  name: string;
  interfaceName: string;
  ips: string[];
  /** CIDR form, e.g. "10.88.0.5/16". */
  cidrs: string[];
  gateway?: string;
  macAddress?: string;
  dnsServers: string[];
  dnsSearchDomains: string[];
}

/**
 * The result of attachNetwork, persisted by the lifecycle (JSON) and handed back to detachNetwork.
 * - netnsPath: the network namespace the runtime spec must join (linux.namespaces[{type:'network', path}]);
 *   undefined for 'host' (no network namespace) and for 'none' when the runtime should create a fresh one.
 * - ips / gateway / dnsServers: for /etc/hosts, /etc/resolv.conf and `inspect`.
 * - ports: the resolved mappings (hostPort 0 replaced by the allocated port).
 * - pid: the user-mode helper (pasta) pid for rootless modes, killed on detach.
 */
export interface NetworkState {
  mode: NetworkMode;
  netnsPath?: string;
  ips: string[];
  gateway?: string;
  dnsServers: string[];
  dnsSearchDomains: string[];
  ports: PortMapping[];
  networks: AttachedNetwork[];
  /** Names of the networks set up through netavark (teardown input). */
  netavarkNetworks?: string[];
  /** The exact JSON given to `netavark setup` (teardown replays it). */
  netavarkOptions?: Record<string, unknown>;
  /** pasta / slirp4netns process id (rootless). */
  helperPid?: number;
  /** Whether the netns file was created by attachNetwork and must be removed by detachNetwork. */
  ownsNetns: boolean;
}

/** Options common to attach/detach. `root` is the store root (state under <root>/networks/). */
export interface NetworkOptions {
  root: string;
  rootless: boolean;
  /**
   * pasta mode only: the PID of the created (not yet started) container, whose network namespace pasta joins.
   * Call order for pasta: `runc create` (spec with a new network namespace, no path) → attachNetwork({pid}) →
   * `runc start`. Other modes are attached before the spec is written and ignore it.
   */
  pid?: number;
  signal?: AbortSignal;
}

/** A network definition, as netavark reads it and as `podman network inspect` (v4) prints it. */
export interface NetworkConfig {
  name: string;
  id: string;
  driver: 'bridge';
  network_interface: string;
  created: string;
  subnets: Array<{ subnet: string; gateway?: string; lease_range?: { start_ip?: string; end_ip?: string } }>;
  ipv6_enabled: boolean;
  internal: boolean;
  dns_enabled: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  ipam_options: { driver: 'host-local' | 'none' | 'dhcp' };
}
