// Pure reading of a Kubernetes YAML stream for `kube play`: parses every document (the `yaml` library), checks
// each against the fields skiff honours, and returns a plan — pods to create with their containers already in
// skiff's terms, volumes, ConfigMaps and Secrets. Unknown kinds and fields become warnings naming them; a
// malformed document is one SkiffError naming the document and the field, thrown before anything is made.
import { parseAllDocuments } from 'yaml';
import { SkiffError } from '../errors.ts';
import type { KubePodSpec, KubeVolume } from './types.ts';
import { isDns1123Label, isDns1123Subdomain } from './types.ts';

/** A container of the plan, in skiff's create terms. */
export interface PlayContainer {
  /** the Kubernetes name (the container is named `<pod>-<name>`) */
  name: string;
  image: string;
  pullPolicy: 'always' | 'missing' | 'never';
  entrypoint?: string[];
  args?: string[];
  env: string[];
  workdir?: string;
  ports: { hostIP: string; hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' | 'sctp' }[];
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  user?: string;
  readOnly: boolean;
  memory?: number;
  cpus?: number;
  tty: boolean;
  stdin: boolean;
  mounts: { volume: string; destination: string; readOnly: boolean }[];
}

/** A pod volume of the plan. */
export type PlayVolume =
  | { kind: 'hostPath'; path: string; type: string; field: string }
  | { kind: 'emptyDir'; memory: boolean }
  | { kind: 'claim'; claim: string }
  | { kind: 'files'; source: 'configMap' | 'secret'; files: Record<string, Buffer> };

/** A pod of the plan. */
export interface PlayPod {
  name: string;
  /** the document it came from, as errors name it (`document 2 (Pod web)`) */
  doc: string;
  /** `Pod` or the Deployment it came from */
  from: string;
  hostname?: string;
  hostNetwork: boolean;
  restart: 'always' | 'on-failure' | 'no';
  ports: PlayContainer['ports'];
  volumes: Record<string, PlayVolume>;
  initContainers: PlayContainer[];
  containers: PlayContainer[];
}

/** What a YAML stream asks for. */
export interface PlayPlan {
  pods: PlayPod[];
  /** PersistentVolumeClaims (named volumes; an existing one is reused) */
  claims: string[];
  warnings: string[];
}

type Obj = Record<string, unknown>;

class Doc {
  constructor(readonly label: string, readonly warnings: string[]) {}
  fail(field: string, what: string): never {
    throw new SkiffError('EINVALID', `${this.label}: ${field}: ${what}`, { hint: 'fix the YAML file and play it again' });
  }
  /** Warns about keys of `o` outside `known` (kubectl's strict decoding reports them). */
  known(o: Obj, path: string, known: readonly string[]): void {
    for (const k of Object.keys(o)) if (!known.includes(k)) this.warnings.push(`${this.label}: unknown field "${path}${path ? '.' : ''}${k}" ignored`);
  }
  obj(v: unknown, field: string, required = false): Obj | undefined {
    if (v === undefined || v === null) {
      if (required) this.fail(field, 'required');
      return undefined;
    }
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'must be a mapping');
    return v as Obj;
  }
  list(v: unknown, field: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(field, 'must be a list');
    return v;
  }
  str(v: unknown, field: string, required = false): string | undefined {
    if (v === undefined || v === null) {
      if (required) this.fail(field, 'required');
      return undefined;
    }
    if (typeof v !== 'string') this.fail(field, 'must be a string');
    return v;
  }
  strs(v: unknown, field: string): string[] | undefined {
    if (v === undefined || v === null) return undefined;
    const l = this.list(v, field);
    return l.map((x, i) => (typeof x === 'string' || typeof x === 'number' ? String(x) : this.fail(`${field}[${i}]`, 'must be a string')));
  }
  int(v: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(field, `must be an integer from ${min} to ${max}`);
    return v;
  }
  bool(v: unknown, field: string): boolean | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(field, 'must be true or false');
    return v;
  }
}

const MEM_UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** A Kubernetes memory quantity (`128Mi`, `1G`, `67108864`) in bytes; undefined when malformed. Pure. */
export function parseMemoryQuantity(q: string | number): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(|k|M|G|T|Ki|Mi|Gi|Ti)$/.exec(String(q).trim());
  return m ? Math.round(Number(m[1]) * MEM_UNITS[m[2]!]!) : undefined;
}

/** A Kubernetes cpu quantity (`500m`, `1.5`, `2`) in CPUs; undefined when malformed. Pure. */
export function parseCpuQuantity(q: string | number): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(String(q).trim());
  return m ? Number(m[1]) / (m[2] === 'm' ? 1000 : 1) : undefined;
}

/**
 * Kubernetes' default pull policy for `image` when the container names none: Always for `:latest` or no tag,
 * IfNotPresent otherwise (a digest counts as a tag). Pure.
 */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.slice(image.lastIndexOf('/') + 1);
  const i = last.indexOf(':');
  return i < 0 || last.slice(i + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

/** skiff's pull policy for a Kubernetes one: `localhost/` images are never pulled (podman). Pure. */
export function pullPolicyOf(image: string, policy: string | undefined): PlayContainer['pullPolicy'] {
  const p = policy ?? defaultPullPolicy(image);
  if (image.startsWith('localhost/')) return 'never';
  return p === 'Always' ? 'always' : p === 'Never' ? 'never' : 'missing';
}

const CONTAINER_FIELDS = ['name', 'image', 'command', 'args', 'env', 'envFrom', 'workingDir', 'ports', 'securityContext', 'resources', 'volumeMounts', 'imagePullPolicy', 'tty', 'stdin', 'stdinOnce', 'terminationMessagePath', 'terminationMessagePolicy'];
const POD_SPEC_FIELDS = ['containers', 'initContainers', 'volumes', 'restartPolicy', 'hostname', 'hostNetwork', 'securityContext', 'dnsPolicy', 'enableServiceLinks', 'automountServiceAccountToken'];
const HOSTPATH_TYPES = ['', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket', 'CharDevice', 'BlockDevice'];

interface DataSources {
  configMaps: Map<string, Record<string, Buffer>>;
  secrets: Map<string, Record<string, Buffer>>;
}

function lookupKey(d: Doc, src: DataSources, kind: 'configMap' | 'secret', name: string, key: string | undefined, optional: boolean, field: string): Record<string, Buffer> | Buffer | undefined {
  const m = (kind === 'configMap' ? src.configMaps : src.secrets).get(name);
  if (!m) {
    if (optional) return undefined;
    d.fail(field, `${kind === 'configMap' ? 'ConfigMap' : 'Secret'} ${JSON.stringify(name)} not found in the file or --configmap`);
  }
  if (key === undefined) return m;
  const v = m[key];
  if (v === undefined && !optional) d.fail(field, `key ${JSON.stringify(key)} not in ${kind === 'configMap' ? 'ConfigMap' : 'Secret'} ${JSON.stringify(name)}`);
  return v;
}

function readContainer(d: Doc, raw: unknown, field: string, src: DataSources, podUser: { runAsUser?: number; runAsGroup?: number }, volumeNames: Set<string>): PlayContainer {
  const c = d.obj(raw, field, true)!;
  d.known(c, field, CONTAINER_FIELDS);
  const name = d.str(c.name, `${field}.name`, true)!;
  if (!isDns1123Label(name)) d.fail(`${field}.name`, `${JSON.stringify(name)} is not a valid DNS-1123 label`);
  const image = d.str(c.image, `${field}.image`, true)!;
  const policy = d.str(c.imagePullPolicy, `${field}.imagePullPolicy`);
  if (policy !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(policy)) d.fail(`${field}.imagePullPolicy`, `${JSON.stringify(policy)}: want Always, IfNotPresent or Never`);
  const env: string[] = [];
  for (const [i, ef] of d.list(c.envFrom, `${field}.envFrom`).entries()) {
    const f = `${field}.envFrom[${i}]`;
    const e = d.obj(ef, f, true)!;
    d.known(e, f, ['prefix', 'configMapRef', 'secretRef']);
    const ref = d.obj(e.configMapRef ?? e.secretRef, `${f}.configMapRef`, true)!;
    const kind = e.configMapRef ? 'configMap' : 'secret';
    const m = lookupKey(d, src, kind, d.str(ref.name, `${f}.${kind}Ref.name`, true)!, undefined, d.bool(ref.optional, `${f}.optional`) === true, f) as Record<string, Buffer> | undefined;
    for (const [k, v] of Object.entries(m ?? {})) env.push(`${d.str(e.prefix, `${f}.prefix`) ?? ''}${k}=${v.toString('utf8')}`);
  }
  for (const [i, ev] of d.list(c.env, `${field}.env`).entries()) {
    const f = `${field}.env[${i}]`;
    const e = d.obj(ev, f, true)!;
    d.known(e, f, ['name', 'value', 'valueFrom']);
    const n = d.str(e.name, `${f}.name`, true)!;
    if (e.valueFrom !== undefined) {
      const vf = d.obj(e.valueFrom, `${f}.valueFrom`, true)!;
      d.known(vf, `${f}.valueFrom`, ['configMapKeyRef', 'secretKeyRef']);
      const kind = vf.configMapKeyRef ? 'configMap' : vf.secretKeyRef ? 'secret' : d.fail(`${f}.valueFrom`, 'want configMapKeyRef or secretKeyRef');
      const ref = d.obj(vf[`${kind}KeyRef`], `${f}.valueFrom.${kind}KeyRef`, true)!;
      const v = lookupKey(d, src, kind, d.str(ref.name, `${f}.valueFrom.${kind}KeyRef.name`, true)!, d.str(ref.key, `${f}.valueFrom.${kind}KeyRef.key`, true)!, d.bool(ref.optional, 'optional') === true, `${f}.valueFrom`) as Buffer | undefined;
      if (v !== undefined) env.push(`${n}=${v.toString('utf8')}`);
    } else {
      const v = e.value;
      env.push(`${n}=${v === undefined || v === null ? '' : String(v)}`);
    }
  }
  const ports: PlayContainer['ports'] = [];
  for (const [i, pv] of d.list(c.ports, `${field}.ports`).entries()) {
    const f = `${field}.ports[${i}]`;
    const p = d.obj(pv, f, true)!;
    d.known(p, f, ['containerPort', 'hostPort', 'hostIP', 'protocol', 'name']);
    const containerPort = d.int(p.containerPort, `${f}.containerPort`, 1, 65535);
    if (containerPort === undefined) d.fail(`${f}.containerPort`, 'required');
    const proto = (d.str(p.protocol, `${f}.protocol`) ?? 'TCP').toLowerCase();
    if (!['tcp', 'udp', 'sctp'].includes(proto)) d.fail(`${f}.protocol`, `${JSON.stringify(p.protocol)}: want TCP, UDP or SCTP`);
    const hostPort = d.int(p.hostPort, `${f}.hostPort`, 1, 65535);
    if (hostPort !== undefined) ports.push({ hostIP: d.str(p.hostIP, `${f}.hostIP`) ?? '', hostPort, containerPort, protocol: proto as 'tcp' });
  }
  const sc = d.obj(c.securityContext, `${field}.securityContext`) ?? {};
  d.known(sc, `${field}.securityContext`, ['capabilities', 'privileged', 'runAsUser', 'runAsGroup', 'readOnlyRootFilesystem', 'seLinuxOptions', 'allowPrivilegeEscalation', 'runAsNonRoot']);
  const caps = d.obj(sc.capabilities, `${field}.securityContext.capabilities`) ?? {};
  d.known(caps, `${field}.securityContext.capabilities`, ['add', 'drop']);
  const uid = d.int(sc.runAsUser, `${field}.securityContext.runAsUser`) ?? podUser.runAsUser;
  const gid = d.int(sc.runAsGroup, `${field}.securityContext.runAsGroup`) ?? podUser.runAsGroup;
  const res = d.obj(c.resources, `${field}.resources`) ?? {};
  d.known(res, `${field}.resources`, ['limits', 'requests']);
  const limits = d.obj(res.limits, `${field}.resources.limits`) ?? {};
  d.known(limits, `${field}.resources.limits`, ['memory', 'cpu']);
  let memory: number | undefined;
  if (limits.memory !== undefined) {
    memory = parseMemoryQuantity(limits.memory as string);
    if (memory === undefined) d.fail(`${field}.resources.limits.memory`, `${JSON.stringify(limits.memory)} is not a quantity (e.g. 128Mi)`);
  }
  let cpus: number | undefined;
  if (limits.cpu !== undefined) {
    cpus = parseCpuQuantity(limits.cpu as string);
    if (cpus === undefined) d.fail(`${field}.resources.limits.cpu`, `${JSON.stringify(limits.cpu)} is not a quantity (e.g. 500m)`);
  }
  const mounts: PlayContainer['mounts'] = [];
  for (const [i, mv] of d.list(c.volumeMounts, `${field}.volumeMounts`).entries()) {
    const f = `${field}.volumeMounts[${i}]`;
    const m = d.obj(mv, f, true)!;
    d.known(m, f, ['name', 'mountPath', 'readOnly']);
    const vol = d.str(m.name, `${f}.name`, true)!;
    if (!volumeNames.has(vol)) d.fail(`${f}.name`, `no volume ${JSON.stringify(vol)} in spec.volumes`);
    const dest = d.str(m.mountPath, `${f}.mountPath`, true)!;
    if (!dest.startsWith('/')) d.fail(`${f}.mountPath`, 'must be an absolute path');
    mounts.push({ volume: vol, destination: dest, readOnly: d.bool(m.readOnly, `${f}.readOnly`) === true });
  }
  const command = d.strs(c.command, `${field}.command`);
  const args = d.strs(c.args, `${field}.args`);
  const workdir = d.str(c.workingDir, `${field}.workingDir`);
  return {
    name,
    image,
    pullPolicy: pullPolicyOf(image, policy),
    ...(command && { entrypoint: command }),
    ...(args && { args }),
    env,
    ...(workdir !== undefined && { workdir }),
    ports,
    capAdd: d.strs(caps.add, `${field}.securityContext.capabilities.add`) ?? [],
    capDrop: d.strs(caps.drop, `${field}.securityContext.capabilities.drop`) ?? [],
    privileged: d.bool(sc.privileged, `${field}.securityContext.privileged`) === true,
    ...(uid !== undefined && { user: gid !== undefined ? `${uid}:${gid}` : String(uid) }),
    readOnly: d.bool(sc.readOnlyRootFilesystem, `${field}.securityContext.readOnlyRootFilesystem`) === true,
    ...(memory !== undefined && { memory }),
    ...(cpus !== undefined && { cpus }),
    tty: d.bool(c.tty, `${field}.tty`) === true,
    stdin: d.bool(c.stdin, `${field}.stdin`) === true,
    mounts,
  };
}

function readVolume(d: Doc, raw: unknown, field: string, src: DataSources): [string, PlayVolume] {
  const v = d.obj(raw, field, true)! as Obj & Partial<KubeVolume>;
  const name = d.str(v.name, `${field}.name`, true)!;
  // podman writes host paths' letters as they are: played as podman plays them, with a warning
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) d.fail(`${field}.name`, `${JSON.stringify(name)} is not a valid volume name`);
  if (!isDns1123Label(name)) d.warnings.push(`${d.label}: ${field}.name: ${JSON.stringify(name)} is not a DNS-1123 label (a cluster would reject it)`);
  const kinds = Object.keys(v).filter((k) => k !== 'name');
  if (kinds.length !== 1) d.fail(field, kinds.length === 0 ? 'no volume source: want hostPath, emptyDir, persistentVolumeClaim, configMap or secret' : `more than one volume source (${kinds.join(', ')})`);
  const kind = kinds[0]!;
  const f = `${field}.${kind}`;
  switch (kind) {
    case 'hostPath': {
      const h = d.obj(v.hostPath, f, true)!;
      d.known(h, f, ['path', 'type']);
      const path = d.str(h.path, `${f}.path`, true)!;
      if (!path.startsWith('/')) d.fail(`${f}.path`, 'must be an absolute path');
      const type = d.str(h.type, `${f}.type`) ?? '';
      if (!HOSTPATH_TYPES.includes(type)) d.fail(`${f}.type`, `${JSON.stringify(type)}: want ${HOSTPATH_TYPES.slice(1).join(', ')}`);
      return [name, { kind: 'hostPath', path, type, field: f }];
    }
    case 'emptyDir': {
      const e = d.obj(v.emptyDir, f) ?? {};
      d.known(e, f, ['medium', 'sizeLimit']);
      const medium = d.str(e.medium, `${f}.medium`) ?? '';
      if (medium !== '' && medium !== 'Memory') d.fail(`${f}.medium`, `${JSON.stringify(medium)}: want "" or Memory`);
      return [name, { kind: 'emptyDir', memory: medium === 'Memory' }];
    }
    case 'persistentVolumeClaim': {
      const p = d.obj(v.persistentVolumeClaim, f, true)!;
      d.known(p, f, ['claimName', 'readOnly']);
      const claim = d.str(p.claimName, `${f}.claimName`, true)!;
      if (!isDns1123Subdomain(claim)) d.fail(`${f}.claimName`, `${JSON.stringify(claim)} is not a valid name`);
      return [name, { kind: 'claim', claim }];
    }
    case 'configMap':
    case 'secret': {
      const c = d.obj(v[kind], f, true)!;
      d.known(c, f, ['name', 'secretName', 'items', 'optional', 'defaultMode']);
      const ref = d.str(kind === 'configMap' ? c.name : c.secretName, `${f}.${kind === 'configMap' ? 'name' : 'secretName'}`, true)!;
      const data = (lookupKey(d, src, kind, ref, undefined, d.bool(c.optional, `${f}.optional`) === true, f) as Record<string, Buffer> | undefined) ?? {};
      const items = d.list(c.items, `${f}.items`);
      let files: Record<string, Buffer> = data;
      if (items.length > 0) {
        files = {};
        for (const [i, it] of items.entries()) {
          const o = d.obj(it, `${f}.items[${i}]`, true)!;
          const key = d.str(o.key, `${f}.items[${i}].key`, true)!;
          const path = d.str(o.path, `${f}.items[${i}].path`, true)!;
          if (path.startsWith('/') || path.split('/').includes('..')) d.fail(`${f}.items[${i}].path`, 'must be a relative path without ".."');
          if (data[key] === undefined) d.fail(`${f}.items[${i}].key`, `key ${JSON.stringify(key)} not in ${ref}`);
          files[path] = data[key]!;
        }
      }
      for (const k of Object.keys(files)) if (k.startsWith('/') || k.split('/').includes('..')) d.fail(f, `key ${JSON.stringify(k)} is not a file name`);
      return [name, { kind: 'files', source: kind, files }];
    }
    default:
      return d.fail(f, `unsupported volume type ${JSON.stringify(kind)}: want hostPath, emptyDir, persistentVolumeClaim, configMap or secret`);
  }
}

function readPodSpec(d: Doc, raw: unknown, field: string, name: string, from: string, src: DataSources): PlayPod {
  const spec = d.obj(raw, field, true)! as Obj & Partial<KubePodSpec>;
  d.known(spec, field, POD_SPEC_FIELDS);
  const volumes: Record<string, PlayVolume> = {};
  for (const [i, v] of d.list(spec.volumes, `${field}.volumes`).entries()) {
    const [n, vol] = readVolume(d, v, `${field}.volumes[${i}]`, src);
    if (volumes[n]) d.fail(`${field}.volumes[${i}].name`, `duplicate volume name ${JSON.stringify(n)}`);
    volumes[n] = vol;
  }
  const psc = d.obj(spec.securityContext, `${field}.securityContext`) ?? {};
  d.known(psc, `${field}.securityContext`, ['runAsUser', 'runAsGroup']);
  const podUser = { runAsUser: d.int(psc.runAsUser, `${field}.securityContext.runAsUser`), runAsGroup: d.int(psc.runAsGroup, `${field}.securityContext.runAsGroup`) };
  const names = new Set(Object.keys(volumes));
  if (spec.containers === undefined || spec.containers === null) d.fail(`${field}.containers`, 'required');
  const list = d.list(spec.containers, `${field}.containers`);
  if (list.length === 0) d.fail(`${field}.containers`, 'must list at least one container');
  const containers = list.map((c, i) => readContainer(d, c, `${field}.containers[${i}]`, src, podUser, names));
  const initContainers = d.list(spec.initContainers, `${field}.initContainers`).map((c, i) => readContainer(d, c, `${field}.initContainers[${i}]`, src, podUser, names));
  const seen = new Set<string>();
  for (const [i, c] of [...initContainers, ...containers].entries()) {
    if (seen.has(c.name)) d.fail(`${field}.${i < initContainers.length ? `initContainers[${i}]` : `containers[${i - initContainers.length}]`}.name`, `duplicate container name ${JSON.stringify(c.name)}`);
    seen.add(c.name);
  }
  const rp = d.str(spec.restartPolicy, `${field}.restartPolicy`) ?? 'Always';
  if (!['Always', 'OnFailure', 'Never'].includes(rp)) d.fail(`${field}.restartPolicy`, `${JSON.stringify(rp)}: want Always, OnFailure or Never`);
  const hostname = d.str(spec.hostname, `${field}.hostname`);
  return {
    name,
    doc: d.label,
    from,
    ...(hostname !== undefined && { hostname }),
    hostNetwork: d.bool(spec.hostNetwork, `${field}.hostNetwork`) === true,
    restart: rp === 'Always' ? 'always' : rp === 'OnFailure' ? 'on-failure' : 'no',
    ports: containers.flatMap((c) => c.ports),
    volumes,
    initContainers,
    containers,
  };
}

function objectName(d: Doc, meta: Obj | undefined): string {
  const name = d.str(meta?.name, 'metadata.name', true)!;
  if (!isDns1123Subdomain(name)) d.fail('metadata.name', `${JSON.stringify(name)} is not a valid Kubernetes name (lower-case letters, digits, '-' and '.')`);
  return name;
}

function dataOf(d: Doc, o: Obj, secret: boolean): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const data = d.obj(o.data, 'data') ?? {};
  for (const [k, v] of Object.entries(data)) {
    const s = d.str(typeof v === 'number' || typeof v === 'boolean' ? String(v) : v, `data.${k}`) ?? '';
    if (secret) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s.replace(/\s/g, ''))) d.fail(`data.${k}`, 'is not base64');
      out[k] = Buffer.from(s, 'base64');
    } else out[k] = Buffer.from(s, 'utf8');
  }
  const sd = d.obj(secret ? o.stringData : o.binaryData, secret ? 'stringData' : 'binaryData') ?? {};
  for (const [k, v] of Object.entries(sd)) out[k] = Buffer.from(d.str(v, k) ?? '', secret ? 'utf8' : 'base64');
  return out;
}

/**
 * Reads the YAML stream `text` (and the `--configmap` streams `extra`, which may hold ConfigMaps only) into a
 * PlayPlan. Documents are named `document N (Kind name)` in errors and warnings. Pure: EINVALID on the first
 * malformed document, before anything is made.
 */
export function planPlay(text: string, extra: readonly { file: string; text: string }[] = []): PlayPlan {
  const warnings: string[] = [];
  const src: DataSources = { configMaps: new Map(), secrets: new Map() };
  const parsed: { d: Doc; o: Obj }[] = [];
  const load = (t: string, where: string) => {
    const docs = parseAllDocuments(t, { uniqueKeys: true });
    for (const [i, y] of (Array.isArray(docs) ? docs : [docs]).entries()) {
      const label = `${where}document ${i + 1}`;
      if (y.errors.length > 0) {
        const e = y.errors[0]!;
        const pos = e.linePos?.[0];
        throw new SkiffError('EINVALID', `${label}: invalid YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${e.message.split('\n')[0]}`, { hint: 'fix the YAML file and play it again' });
      }
      const o = y.toJS() as unknown;
      if (o === null || o === undefined) continue;
      if (typeof o !== 'object' || Array.isArray(o)) throw new SkiffError('EINVALID', `${label}: not a Kubernetes object (want a mapping with apiVersion and kind)`, { hint: 'fix the YAML file and play it again' });
      const ob = o as Obj;
      const kind = typeof ob.kind === 'string' ? ob.kind : '';
      const meta = ob.metadata as Obj | undefined;
      const nm = typeof meta?.name === 'string' ? ` ${meta.name}` : '';
      const d = new Doc(`${label} (${kind || 'no kind'}${nm})`, warnings);
      if (kind === '') d.fail('kind', 'required');
      parsed.push({ d, o: ob });
    }
  };
  for (const x of extra) load(x.text, `${x.file}: `);
  const extraCount = parsed.length;
  load(text, '');
  for (const [i, { d, o }] of parsed.entries()) {
    if (i < extraCount && o.kind !== 'ConfigMap') d.fail('kind', '--configmap files hold ConfigMaps only');
    if (o.kind === 'ConfigMap' || o.kind === 'Secret') {
      const name = objectName(d, d.obj(o.metadata, 'metadata', true));
      d.known(o, '', ['apiVersion', 'kind', 'metadata', 'data', o.kind === 'Secret' ? 'stringData' : 'binaryData', 'type', 'immutable']);
      (o.kind === 'ConfigMap' ? src.configMaps : src.secrets).set(name, dataOf(d, o, o.kind === 'Secret'));
    }
  }
  const plan: PlayPlan = { pods: [], claims: [], warnings };
  const podNames = new Set<string>();
  const addPod = (d: Doc, p: PlayPod) => {
    if (podNames.has(p.name)) d.fail('metadata.name', `a second pod named ${JSON.stringify(p.name)}`);
    podNames.add(p.name);
    plan.pods.push(p);
  };
  for (const { d, o } of parsed.slice(extraCount)) {
    switch (o.kind) {
      case 'Pod': {
        d.known(o, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
        const meta = d.obj(o.metadata, 'metadata', true)!;
        const name = objectName(d, meta);
        if (!isDns1123Label(name)) d.fail('metadata.name', `${JSON.stringify(name)} is not a valid DNS-1123 label`);
        addPod(d, readPodSpec(d, o.spec, 'spec', name, `Pod ${name}`, src));
        break;
      }
      case 'Deployment': {
        d.known(o, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
        const name = objectName(d, d.obj(o.metadata, 'metadata', true));
        const spec = d.obj(o.spec, 'spec', true)!;
        d.known(spec, 'spec', ['replicas', 'selector', 'template', 'strategy']);
        const replicas = d.int(spec.replicas, 'spec.replicas', 0, 100) ?? 1;
        const tpl = d.obj(spec.template, 'spec.template', true)!;
        d.known(tpl, 'spec.template', ['metadata', 'spec']);
        for (let r = 0; r < replicas; r++) addPod(d, readPodSpec(d, tpl.spec, 'spec.template.spec', `${name}-pod-${r}`, `Deployment ${name}`, src));
        break;
      }
      case 'PersistentVolumeClaim': {
        d.known(o, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
        const name = objectName(d, d.obj(o.metadata, 'metadata', true));
        if (!plan.claims.includes(name)) plan.claims.push(name);
        break;
      }
      case 'ConfigMap':
      case 'Secret':
      case 'Service': // a Service routes to pods on a cluster: the pods' hostPorts publish here, as podman does
        break;
      default:
        warnings.push(`${d.label}: kind ${JSON.stringify(o.kind)} is not supported and was ignored`);
    }
  }
  for (const p of plan.pods) for (const v of Object.values(p.volumes)) if (v.kind === 'claim' && !plan.claims.includes(v.claim)) plan.claims.push(v.claim);
  return plan;
}

/**
 * What a YAML stream created (for `kube down`): the pod names of its Pods and Deployments (`<name>-pod-N` per
 * replica) and its claims (PersistentVolumeClaims, and the claimNames its pods' volumes use). Reads names only (a ConfigMap it needs may be absent now); EINVALID for
 * a stream that is not YAML. Pure.
 */
export function createdBy(text: string): { pods: string[]; claims: string[] } {
  const out = { pods: [] as string[], claims: [] as string[] };
  const docs = parseAllDocuments(text);
  for (const [i, y] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    if (y.errors.length > 0) throw new SkiffError('EINVALID', `document ${i + 1}: invalid YAML: ${y.errors[0]!.message.split('\n')[0]}`);
    type Spec = { volumes?: unknown };
    const o = y.toJS() as { kind?: unknown; metadata?: { name?: unknown }; spec?: Spec & { replicas?: unknown; template?: { spec?: Spec } } } | null;
    const name = o?.metadata?.name;
    if (typeof name !== 'string') continue;
    let spec: Spec | undefined;
    if (o?.kind === 'Pod') {
      out.pods.push(name);
      spec = o.spec;
    } else if (o?.kind === 'Deployment') {
      for (let r = 0; r < (typeof o.spec?.replicas === 'number' ? o.spec.replicas : 1); r++) out.pods.push(`${name}-pod-${r}`);
      spec = o.spec?.template?.spec;
    } else if (o?.kind === 'PersistentVolumeClaim') out.claims.push(name);
    // a claim a pod names is made by play when missing: it is the file's too
    for (const v of Array.isArray(spec?.volumes) ? (spec.volumes as { persistentVolumeClaim?: { claimName?: unknown } }[]) : []) {
      const c = v?.persistentVolumeClaim?.claimName;
      if (typeof c === 'string') out.claims.push(c);
    }
  }
  out.claims = [...new Set(out.claims)];
  return out;
}

