/**
 * The OCI runtime-spec (1.0.2) shapes skiff generates, with the spec's own field names. Only the parts skiff
 * writes are typed; runc reads the JSON as is.
 */

/** runtime-spec `mounts[]` entry. */
export interface SpecMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** runtime-spec `process.rlimits[]` entry. */
export interface SpecRlimit {
  type: string;
  hard: number;
  soft: number;
}

/** runtime-spec `process.capabilities`. */
export interface SpecCapabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}

/** runtime-spec `process.user`. */
export interface SpecUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

/** runtime-spec `process`. */
export interface SpecProcess {
  terminal?: boolean;
  user: SpecUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: SpecCapabilities;
  rlimits?: SpecRlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

/** runtime-spec `linux.namespaces[]` entry. */
export interface SpecNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}

/** runtime-spec id mapping. */
export interface SpecIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** runtime-spec `linux.devices[]` entry. */
export interface SpecDevice {
  type: 'c' | 'b' | 'u' | 'p';
  path: string;
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** runtime-spec `linux.resources.devices[]` entry. */
export interface SpecDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

/** runtime-spec `linux.resources`. */
export interface SpecResources {
  devices?: SpecDeviceCgroup[];
  memory?: { limit?: number; swap?: number };
  cpu?: { quota?: number; period?: number };
  pids?: { limit: number };
}

/** runtime-spec seccomp argument filter. */
export interface SpecSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** runtime-spec seccomp syscall rule. */
export interface SpecSeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SpecSeccompArg[];
}

/** runtime-spec `linux.seccomp`. */
export interface SpecSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: SpecSeccompSyscall[];
}

/** runtime-spec `linux`. */
export interface SpecLinux {
  namespaces: SpecNamespace[];
  uidMappings?: SpecIDMapping[];
  gidMappings?: SpecIDMapping[];
  devices?: SpecDevice[];
  cgroupsPath?: string;
  resources?: SpecResources;
  rootfsPropagation?: string;
  seccomp?: SpecSeccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
}

/** A runtime-spec config.json document. */
export interface RuntimeSpec {
  ociVersion: string;
  process: SpecProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: SpecMount[];
  annotations?: Record<string, string>;
  linux: SpecLinux;
}
