// Pure conversion from skiff's container and pod specs to Kubernetes documents (podman's `kube generate`): a
// Pod per pod (containers given alone become one pod), a NodePort Service with `-s`, a PersistentVolumeClaim per
// named volume. Every name written is a valid Kubernetes name. No I/O: run-tool/kube/ gathers the inputs.
import { stringify } from 'yaml';
import type { KubeContainer, KubeDocument, KubePersistentVolumeClaim, KubePod, KubePort, KubeService, KubeVolume } from './types.ts';
import { toDns1123Label } from './types.ts';

/** One container as generate sees it: what it was created with next to what its image says. */
export interface GenerateContainer {
  name: string;
  image: string;
  imageConfig: { Env?: string[] | null; Cmd?: string[] | null; Entrypoint?: string[] | null; WorkingDir?: string; User?: string };
  entrypoint: string[];
  cmd: string[];
  /** the process environment (image, defaults and the user's) */
  env: string[];
  /** environment entries skiff adds to every container (not the user's) */
  defaultEnv: readonly string[];
  workingDir: string;
  user: string;
  ports: { hostIP: string; hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' | 'sctp' }[];
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  readOnly: boolean;
  /** bytes; 0 for none */
  memory: number;
  /** CPUs × 1e9; 0 for none */
  nanoCpus: number;
  tty: boolean;
  stdin: boolean;
  restart: string;
  hostNetwork: boolean;
  hostname?: string;
  /** bind mounts (with whether the source is a file), tmpfs mounts and named volumes, in the container's order */
  mounts: ({ type: 'bind'; source: string; destination: string; readOnly: boolean; file: boolean } | { type: 'tmpfs'; destination: string } | { type: 'volume'; name: string; destination: string; readOnly: boolean })[];
}

/** One pod to write: its name, hostname, published ports (the infra container's) and containers. */
export interface GeneratePod {
  name: string;
  hostname?: string;
  hostNetwork?: boolean;
  ports: GenerateContainer['ports'];
  containers: GenerateContainer[];
}

const PROTO = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' } as const;

function sameList(a: readonly string[], b: readonly string[] | null | undefined): boolean {
  const bb = b ?? [];
  return a.length === bb.length && a.every((x, i) => x === bb[i]);
}

/** The capability name Kubernetes uses: upper case without `CAP_`. */
function capName(c: string): string {
  return c.toUpperCase().replace(/^CAP_/, '');
}

/** `n` CPUs × 1e9 as a Kubernetes cpu quantity in millicores. */
function cpuQuantity(nano: number): string {
  return `${Math.round(nano / 1e6)}m`;
}

function restartPolicy(r: string): 'Always' | 'OnFailure' | 'Never' {
  if (r === 'always' || r === 'unless-stopped') return 'Always';
  if (r === 'on-failure') return 'OnFailure';
  return 'Never';
}

function kubePorts(ports: GenerateContainer['ports']): KubePort[] {
  return ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort, ...(p.hostIP !== '' && p.hostIP !== '0.0.0.0' && { hostIP: p.hostIP }), protocol: PROTO[p.protocol] }));
}

/** A volume name from a host path: `/srv/data` → `srv-data-host-N` (podman's scheme with '-'), a DNS-1123 label. */
function hostVolumeName(path: string, i: number): string {
  return toDns1123Label(`${path.replace(/^\/+/, '').slice(0, 50)}-host-${i}`, `host-${i}`);
}

function containerDoc(c: GenerateContainer, podName: string, volumes: KubeVolume[], extraPorts: GenerateContainer['ports']): KubeContainer {
  const img = c.imageConfig;
  const k: KubeContainer = { name: toDns1123Label(c.name.startsWith(`${podName}-`) ? c.name.slice(podName.length + 1) : c.name, 'ctr'), image: c.image };
  const entryDiffers = !sameList(c.entrypoint, img.Entrypoint);
  if (entryDiffers) k.command = [...c.entrypoint];
  // a command replaces the image's Cmd in Kubernetes: args are written whenever the command is
  if ((entryDiffers && c.cmd.length > 0) || !sameList(c.cmd, img.Cmd)) k.args = [...c.cmd];
  const imageEnv = new Set(img.Env ?? []);
  // a PATH from skiff's defaults is written when the image has none: not every runtime adds one (podman's kube play does not)
  const imageHasPath = (img.Env ?? []).some((e) => e.startsWith('PATH='));
  const defaults = new Set(c.defaultEnv.filter((e) => imageHasPath || !e.startsWith('PATH=')));
  const env = c.env.filter((e) => !imageEnv.has(e) && !defaults.has(e) && !e.startsWith('HOSTNAME='));
  if (env.length > 0) {
    k.env = env.map((e) => {
      const i = e.indexOf('=');
      return { name: i < 0 ? e : e.slice(0, i), value: i < 0 ? '' : e.slice(i + 1) };
    });
  }
  if (c.workingDir !== '' && c.workingDir !== (img.WorkingDir || '/')) k.workingDir = c.workingDir;
  const ports = kubePorts([...extraPorts, ...c.ports]);
  if (ports.length > 0) k.ports = ports;
  const sc: NonNullable<KubeContainer['securityContext']> = {};
  if (c.capAdd.length > 0 || c.capDrop.length > 0) {
    sc.capabilities = {
      ...(c.capAdd.length > 0 && { add: c.capAdd.map(capName) }),
      ...(c.capDrop.length > 0 && { drop: c.capDrop.map(capName) }),
    };
  }
  if (c.privileged) sc.privileged = true;
  const user = c.user !== '' && c.user !== (img.User ?? '') ? /^(\d+)(?::(\d+))?$/.exec(c.user) : null;
  if (user) {
    sc.runAsUser = Number(user[1]);
    if (user[2] !== undefined) sc.runAsGroup = Number(user[2]);
  }
  if (c.readOnly) sc.readOnlyRootFilesystem = true;
  if (Object.keys(sc).length > 0) k.securityContext = sc;
  if (c.memory > 0 || c.nanoCpus > 0) k.resources = { limits: { ...(c.memory > 0 && { memory: String(c.memory) }), ...(c.nanoCpus > 0 && { cpu: cpuQuantity(c.nanoCpus) }) } };
  const mounts: NonNullable<KubeContainer['volumeMounts']> = [];
  for (const m of c.mounts) {
    let vol: KubeVolume;
    if (m.type === 'bind') vol = { name: hostVolumeName(m.source, volumes.length), hostPath: { path: m.source, type: m.file ? 'File' : 'Directory' } };
    else if (m.type === 'tmpfs') vol = { name: toDns1123Label(`${m.destination.replace(/^\/+/, '')}-tmpfs-${volumes.length}`, `tmpfs-${volumes.length}`), emptyDir: { medium: 'Memory' } };
    else vol = { name: toDns1123Label(`${m.name}-pvc`, 'pvc'), persistentVolumeClaim: { claimName: toDns1123Label(m.name, 'volume') } };
    const same = volumes.find((v) => JSON.stringify({ ...v, name: '' }) === JSON.stringify({ ...vol, name: '' }));
    if (!same) volumes.push(vol);
    mounts.push({ name: (same ?? vol).name, mountPath: m.destination, ...(m.type !== 'tmpfs' && m.readOnly && { readOnly: true }) });
  }
  if (mounts.length > 0) k.volumeMounts = mounts;
  if (c.tty) k.tty = true;
  if (c.stdin) k.stdin = true;
  return k;
}

/** The Pod document of `p`: labels `app`, one container per member, the infra ports on the first. Pure. */
export function podDocument(p: GeneratePod): KubePod {
  const name = toDns1123Label(p.name, 'pod');
  const volumes: KubeVolume[] = [];
  const containers = p.containers.map((c, i) => containerDoc(c, p.name, volumes, i === 0 ? p.ports : []));
  const first = p.containers[0];
  const hostname = p.hostname ?? first?.hostname;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      containers,
      ...(hostname !== undefined && hostname !== '' && { hostname: toDns1123Label(hostname, name) }),
      ...((p.hostNetwork ?? first?.hostNetwork) && { hostNetwork: true }),
      restartPolicy: restartPolicy(first?.restart ?? 'no'),
      ...(volumes.length > 0 && { volumes }),
    },
  };
}

/** A NodePort Service selecting pod `pod` with one port per published port (nodePort kept when it is in 30000–32767). Pure. */
export function serviceDocument(pod: KubePod): KubeService | undefined {
  const ports = pod.spec.containers.flatMap((c) => c.ports ?? []).filter((p) => p.hostPort !== undefined);
  if (ports.length === 0) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: pod.metadata.name, labels: { app: pod.metadata.name } },
    spec: {
      selector: { app: pod.metadata.name },
      type: 'NodePort',
      ports: ports.map((p) => ({
        name: `${p.containerPort}-${(p.protocol ?? 'TCP').toLowerCase()}`,
        port: p.containerPort,
        protocol: p.protocol ?? 'TCP',
        targetPort: p.containerPort,
        ...(p.hostPort! >= 30000 && p.hostPort! <= 32767 && { nodePort: p.hostPort! }),
      })),
    },
  };
}

/** A PersistentVolumeClaim for named volume `name` (ReadWriteOnce, 1Gi requested, as podman writes it). Pure. */
export function claimDocument(name: string): KubePersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: toDns1123Label(name, 'volume'), annotations: { 'volume.podman.io/driver': 'local' } },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  };
}

/**
 * The documents for `pods` and `volumes`: each pod's Pod (and Service with `service`), then a PersistentVolumeClaim
 * per volume named here or used by a pod (each once). Pure.
 */
export function generateDocuments(pods: readonly GeneratePod[], volumes: readonly string[], o: { service?: boolean } = {}): KubeDocument[] {
  const docs: KubeDocument[] = [];
  const claims = new Set<string>(volumes);
  for (const p of pods) {
    const pod = podDocument(p);
    for (const c of p.containers) for (const m of c.mounts) if (m.type === 'volume') claims.add(m.name);
    docs.push(pod);
    if (o.service) {
      const svc = serviceDocument(pod);
      if (svc) docs.push(svc);
    }
  }
  for (const v of claims) docs.push(claimDocument(v));
  return docs;
}

/** `docs` as YAML documents separated by `---` (the `yaml` library's emitter). Pure. */
export function documentsToYaml(docs: readonly KubeDocument[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}
