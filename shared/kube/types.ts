// The Kubernetes API objects skiff reads and writes (core/v1 Pod, Service, PersistentVolumeClaim, ConfigMap,
// Secret; apps/v1 Deployment), reduced to the fields skiff fills or honours. Field names and nesting are the API's.

/** metadata of any object. */
export interface ObjectMeta {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** core/v1 ContainerPort. */
export interface KubePort {
  containerPort: number;
  hostPort?: number;
  hostIP?: string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  name?: string;
}

/** core/v1 EnvVar (value, or a key of a ConfigMap or Secret). */
export interface KubeEnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

/** core/v1 EnvFromSource. */
export interface KubeEnvFrom {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

/** core/v1 SecurityContext (the container's). */
export interface KubeSecurityContext {
  capabilities?: { add?: string[]; drop?: string[] };
  privileged?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  seLinuxOptions?: Record<string, string>;
}

/** core/v1 Container. */
export interface KubeContainer {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: KubeEnvVar[];
  envFrom?: KubeEnvFrom[];
  workingDir?: string;
  ports?: KubePort[];
  securityContext?: KubeSecurityContext;
  resources?: { limits?: { memory?: string; cpu?: string }; requests?: { memory?: string; cpu?: string } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  tty?: boolean;
  stdin?: boolean;
}

/** core/v1 Volume: the sources skiff honours. */
export interface KubeVolume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: { medium?: string; sizeLimit?: string };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  configMap?: { name: string; items?: { key: string; path: string }[]; optional?: boolean; defaultMode?: number };
  secret?: { secretName: string; items?: { key: string; path: string }[]; optional?: boolean; defaultMode?: number };
}

/** core/v1 PodSpec. */
export interface KubePodSpec {
  containers: KubeContainer[];
  initContainers?: KubeContainer[];
  volumes?: KubeVolume[];
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  hostname?: string;
  hostNetwork?: boolean;
  securityContext?: { runAsUser?: number; runAsGroup?: number };
}

/** core/v1 Pod. */
export interface KubePod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: KubePodSpec;
}

/** core/v1 Service (skiff writes NodePort services). */
export interface KubeService {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec: {
    selector: Record<string, string>;
    type: 'NodePort';
    ports: { name: string; port: number; protocol: 'TCP' | 'UDP' | 'SCTP'; targetPort: number; nodePort?: number }[];
  };
}

/** core/v1 PersistentVolumeClaim. */
export interface KubePersistentVolumeClaim {
  apiVersion: 'v1';
  kind: 'PersistentVolumeClaim';
  metadata: ObjectMeta;
  spec: { accessModes: string[]; resources: { requests: { storage: string } } };
}

/** Any document skiff generates. */
export type KubeDocument = KubePod | KubeService | KubePersistentVolumeClaim;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Whether `s` is a DNS-1123 label (what Kubernetes wants for container and port names): at most 63 characters. */
export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** Whether `s` is a DNS-1123 subdomain (what Kubernetes wants for object names): at most 253 characters. */
export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

/**
 * `s` made a DNS-1123 label: lower-cased, every run of other characters ('_', '.', '/', …) one '-', trimmed of
 * '-' at both ends and to 63 characters; `fallback` when nothing is left. Pure; the result always passes
 * isDns1123Label (when `fallback` does).
 */
export function toDns1123Label(s: string, fallback = 'x'): string {
  const out = s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+/, '').slice(0, 63).replace(/-+$/, '');
  return out === '' ? fallback : out;
}
