// What `create`/`run` accept, already parsed from flags, grouped into the sections podman's spec generator uses
// (pkg/specgen's SpecGenerator embeds ContainerBasicConfig, ContainerStorageConfig, ContainerSecurityConfig,
// ContainerCgroupConfig, ContainerNetworkConfig, ContainerResourceConfig and ContainerHealthCheckConfig). As Go's
// embedding does, the sections flatten into one options object: `o.memory`, not `o.resources.memory`. A new
// option goes into the section podman keeps it in; the cgroup section starts when its first flag
// (--cgroup-parent, --cgroupns) lands.
import type { PodCgroup } from '../../shared/runtime/cgroup-manager.ts';
import type { MountRequest } from '../../shared/runtime/mounts.ts';
import type { SpecDevice, SpecRlimit } from '../../shared/runtime/types.ts';
import type { HealthConfig, PortMapping, RestartPolicy } from './state.ts';
import type { SecretUse } from './secrets.ts';

/** The container's identity, process and life: what runs, under which name, how it is stopped and restarted. */
export interface ContainerBasicConfig {
  /** A pre-chosen id (64 hex): a pod records its infra container's id before making it, so a killed create is swept */
  id?: string;
  name?: string;
  /** The command (after the image) */
  args?: string[];
  entrypoint?: string[];
  env?: string[];
  labels?: Record<string, string>;
  hostname?: string;
  sysctls?: Record<string, string>;
  /** Allocate a terminal (podman's Terminal) */
  tty?: boolean;
  /** Keep stdin open (podman's Stdin) */
  interactive?: boolean;
  stopSignal?: string;
  stopTimeout?: number;
  restart?: RestartPolicy;
  /** Remove the container when it exits (podman's Remove) */
  rm?: boolean;
  preserveFds?: number;
  /**
   * Namespaces to share with other containers (podman's NetNS/IPCNS/UtsNS/PidNS `container:` modes): kind → the
   * target's name or id. A shared network takes the target's /etc/hosts and /etc/resolv.conf and publishes nothing.
   */
  shareNamespaces?: Partial<Record<'network' | 'ipc' | 'uts' | 'pid', string>>;
  /** The pod the container joins (its full id; the ops layer resolves and checks it) */
  pod?: string;
  /** a pod member's (and infra's) parent cgroup: the pod's own (podCgroupOf); runc places the container below it */
  podCgroup?: PodCgroup;
  /** The container is its pod's infra container (podman's IsInfra) */
  isInfra?: boolean;
  /** A file that receives the monitor's (conmon's) pid at every start (podman's ConmonPidFile) */
  conmonPidFile?: string;
  /** The command line that made the container (podman's CreateCommand; `generate systemd --new` reuses it) */
  createCommand?: string[];
  /** `--sdnotify`: who tells systemd the service is ready (podman's SdNotifyMode; default container) */
  sdNotify?: SdNotifyMode;
}

/** podman's `--sdnotify` modes: skiff (conmon), the container itself, or nobody. */
export type SdNotifyMode = 'conmon' | 'container' | 'ignore';

/** The container's filesystem: its image, working directory, mounts, volumes, devices and init. */
export interface ContainerStorageConfig {
  image: string;
  workdir?: string;
  mounts?: MountRequest[];
  volumes?: { name: string; destination: string; options: string[] }[];
  devices?: (SpecDevice & { access?: string })[];
  /** Run an init (catatonit) as PID 1 */
  init?: boolean;
  /** `--secret`: secrets mounted as files or given as environment variables (podman's Secrets) */
  secrets?: SecretUse[];
  /** The init binary `init` bind-mounts (containers.conf init_path; default: catatonit where podman installs it) */
  initPath?: string;
  /** Size of /dev/shm in bytes (containers.conf shm_size; default 64 MiB) */
  shmSize?: number;
}

/** Who the process is and what it may do: user and groups, capabilities, seccomp, a read-only root, the user namespace. */
export interface ContainerSecurityConfig {
  user?: string;
  /** Extra groups (podman's Groups) */
  groupAdd?: string[];
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  noNewPrivileges?: boolean;
  /** `--security-opt seccomp=…`: 'unconfined' or a profile path */
  seccomp?: string;
  securityOpt?: string[];
  /** Read-only root filesystem (podman's ReadOnlyFilesystem) */
  readOnly?: boolean;
  /** `--userns=keep-id` (rootless only): the invoking user's ids are kept inside a nested user namespace */
  userns?: 'keep-id';
}

/** The network namespace, published ports, /etc/hosts and resolver settings. */
export interface ContainerNetworkConfig {
  network?: string;
  /** Extra DNS names per bridge network joined (Docker's EndpointsConfig Aliases) */
  networkAliases?: Record<string, string[]>;
  /** A fixed IPv4 address per bridge network joined (Docker's EndpointsConfig IPAMConfig.IPv4Address) */
  networkIps?: Record<string, string>;
  ports?: PortMapping[];
  /** Publish every exposed port (podman's PublishExposedPorts) */
  publishAll?: boolean;
  /** Extra /etc/hosts entries (podman's HostAdd) */
  addHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

/** Resource limits: memory, CPU, pids and rlimits. */
export interface ContainerResourceConfig {
  memory?: number;
  cpus?: number;
  pidsLimit?: number;
  ulimits?: SpecRlimit[];
}

/** The health check and its timing. */
export interface ContainerHealthCheckConfig {
  health?: HealthConfig;
}

/** How the create call itself behaves (not part of the container): where warnings go, and cancellation. */
export interface CreateCallOptions {
  onWarning?: (msg: string) => void;
  signal?: AbortSignal;
}

/** Everything `create`/`run` accept, already parsed from flags: the spec sections plus the call's own options. */
export interface CreateOptions
  extends ContainerBasicConfig, ContainerStorageConfig, ContainerSecurityConfig, ContainerNetworkConfig, ContainerResourceConfig, ContainerHealthCheckConfig, CreateCallOptions {}
