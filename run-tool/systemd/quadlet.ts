// Quadlet-style conversion (podman-systemd.unit(5)): a .container, .volume, .network, .kube or .pod file becomes
// a systemd service running run-tool. The source's own section stays in the unit as `X-<Section>` (systemd
// ignores X- sections), [Unit], [Service] and [Install] pass through, the generated keys follow. Every problem is
// reported as `file:line: message`; a file with a problem gives no unit. Pure.
import { basename, extname } from 'node:path';
import { splitWords, type UnitEntry, type UnitError, type UnitFile } from './unit-file.ts';
import { formatExec, stopExitLines, type RawArg } from './unit-text.ts';

/** The kinds of Quadlet files and the service name each gives (`web.container` → `web.service`, `data.volume` → `data-volume.service`). */
export const QUADLET_KINDS = { '.container': 'Container', '.volume': 'Volume', '.network': 'Network', '.kube': 'Kube', '.pod': 'Pod' } as const;

/** The service a Quadlet file named `file` turns into (without `.service`). Pure. */
export function serviceNameOf(file: string): string {
  const ext = extname(file) as keyof typeof QUADLET_KINDS;
  const base = basename(file, ext);
  return ext === '.container' || ext === '.kube' ? base : `${base}-${ext.slice(1)}`;
}

/** What conversion needs besides the files. */
export interface QuadletContext {
  /** the words every Exec line starts with (absolute Node, run-tool's script) */
  executable: readonly string[];
  /** the store every Exec line names */
  storeRoot: string;
  /** base names of the .pod, .volume and .network files present (`web.pod` …), for Pod=/Volume=/Network= references */
  present: ReadonlySet<string>;
  /** service names of the containers that name each pod file (`web.pod` → ['a.service']) */
  podMembers: ReadonlyMap<string, readonly string[]>;
}

const spec = (s: string): RawArg => ({ spec: s });

type KeyHandler = (e: UnitEntry, out: Conversion) => void;

/** A path in a Quadlet file: absolute or a specifier expression as written, else relative to the file (podman's rule). Pure. */
function besideFile(file: string, path: string): string {
  return path.startsWith('/') || path.startsWith('%') ? path : `${file.slice(0, file.lastIndexOf('/') + 1)}${path}`;
}

/** The state of one file's conversion. */
interface Conversion {
  args: (string | RawArg)[];
  unit: string[];
  errors: UnitError[];
  ctx: QuadletContext;
  /** the key's words (splitWords), or an error recorded and undefined */
  words(e: UnitEntry): string[] | undefined;
}

function bool(e: UnitEntry, c: Conversion): boolean | undefined {
  if (/^(1|yes|true|on)$/i.test(e.value)) return true;
  if (/^(0|no|false|off)$/i.test(e.value)) return false;
  c.errors.push({ file: e.file, line: e.line, message: `${e.key}=${e.value}: want a boolean` });
  return undefined;
}

/** `foo.volume` / `foo.network` / `foo.pod` references: the object's name and the service to depend on, or an error. */
function reference(e: UnitEntry, ref: string, kind: '.volume' | '.network' | '.pod', c: Conversion): { name: string; service: string } | undefined {
  if (!ref.endsWith(kind)) return undefined;
  if (!c.ctx.present.has(ref)) {
    c.errors.push({ file: e.file, line: e.line, message: `${e.key}=${e.value}: no ${ref} file found` });
    return undefined;
  }
  const base = ref.slice(0, -kind.length);
  return { name: `systemd-${base}`, service: `${base}-${kind.slice(1)}.service` };
}

function depend(c: Conversion, service: string, bind = false): void {
  c.unit.push(`Requires=${service}`, `After=${service}`);
  if (bind) c.unit.push(`BindsTo=${service}`);
}

const flag = (name: string): KeyHandler => (e, c) => c.args.push(name, spec(e.value));
const flagWords = (name: string): KeyHandler => (e, c) => {
  for (const w of c.words(e) ?? []) c.args.push(name, spec(w));
};
const boolFlag = (name: string): KeyHandler => (e, c) => {
  if (bool(e, c)) c.args.push(name);
};

/** A documented Quadlet key run-tool has no flag for: an error naming the key and podman's flag. */
const unsupported = (podmanFlag: string): KeyHandler => (e, c) => {
  c.errors.push({ file: e.file, line: e.line, message: `${e.key}= (podman's ${podmanFlag}) is not supported by run-tool` });
};
/** A boolean key that, when true, adds `name value` (VolatileTmp=, NoNewPrivileges=). */
const boolValue = (name: string, value: string): KeyHandler => (e, c) => {
  if (bool(e, c)) c.args.push(name, value);
};

/** `PodmanArgs=`: the words as they are, after the generated flags. */
const podmanArgs: KeyHandler = (e, c) => {
  for (const w of c.words(e) ?? []) c.args.push(spec(w));
};

/** Keys handled where the whole file is read (Image, Exec, Notify, Pod, Group, ContainerName…). */
const noop: KeyHandler = () => {};

/** podman-systemd.unit(5)'s [Container] keys (podman 4.4–4.9, plus Entrypoint and StopSignal of later releases). */
const CONTAINER_KEYS: Record<string, KeyHandler> = {
  Image: noop,
  ContainerName: noop,
  Exec: noop,
  Notify: noop,
  Pod: noop,
  Group: noop,
  StopTimeout: flag('--stop-timeout'),
  Environment: flagWords('--env'),
  EnvironmentFile: flag('--env-file'),
  EnvironmentHost: boolFlag('--env-host'),
  PublishPort: flag('--publish'),
  User: flag('--user'),
  Label: flagWords('--label'),
  WorkingDir: flag('--workdir'),
  HostName: flag('--hostname'),
  ReadOnly: boolFlag('--read-only'),
  RunInit: boolFlag('--init'),
  AddCapability: flagWords('--cap-add'),
  DropCapability: flagWords('--cap-drop'),
  AddDevice: flag('--device'),
  Tmpfs: flag('--tmpfs'),
  VolatileTmp: boolValue('--tmpfs', '/tmp:rw,size=512M,mode=1777'),
  Mount: flag('--mount'),
  DNS: flag('--dns'),
  DNSSearch: flag('--dns-search'),
  DNSOption: flag('--dns-option'),
  NoNewPrivileges: boolValue('--security-opt', 'no-new-privileges'),
  SeccompProfile: (e, c) => c.args.push('--security-opt', spec(`seccomp=${e.value}`)),
  SecurityLabelDisable: boolValue('--security-opt', 'label=disable'),
  PidsLimit: flag('--pids-limit'),
  Ulimit: flag('--ulimit'),
  Sysctl: flagWords('--sysctl'),
  UserNS: flag('--userns'),
  Pull: flag('--pull'),
  Entrypoint: flag('--entrypoint'),
  StopSignal: flag('--stop-signal'),
  HealthCmd: flag('--health-cmd'),
  HealthInterval: flag('--health-interval'),
  HealthRetries: flag('--health-retries'),
  HealthStartPeriod: flag('--health-start-period'),
  HealthTimeout: flag('--health-timeout'),
  AutoUpdate: (e, c) => {
    if (e.value !== 'registry' && e.value !== 'local') c.errors.push({ file: e.file, line: e.line, message: `AutoUpdate=${e.value}: want registry or local` });
    else c.args.push('--label', `io.containers.autoupdate=${e.value}`);
  },
  Volume: (e, c) => {
    const [src, ...rest] = e.value.split(':');
    const r = reference(e, src!, '.volume', c);
    if (r) depend(c, r.service);
    if (src!.endsWith('.volume') && !r) return;
    c.args.push('--volume', spec([r ? r.name : src, ...rest].join(':')));
  },
  Network: (e, c) => {
    const r = reference(e, e.value, '.network', c);
    if (r) depend(c, r.service);
    if (e.value.endsWith('.network') && !r) return;
    c.args.push('--network', spec(r ? r.name : e.value));
  },
  PodmanArgs: podmanArgs,
  Annotation: unsupported('--annotation'),
  ExposeHostPort: unsupported('--expose'),
  GIDMap: unsupported('--gidmap'),
  UIDMap: unsupported('--uidmap'),
  SubUIDMap: unsupported('--subuidname'),
  SubGIDMap: unsupported('--subgidname'),
  HealthOnFailure: unsupported('--health-on-failure'),
  HealthStartupCmd: unsupported('--health-startup-cmd'),
  HealthStartupInterval: unsupported('--health-startup-interval'),
  HealthStartupRetries: unsupported('--health-startup-retries'),
  HealthStartupSuccess: unsupported('--health-startup-success'),
  HealthStartupTimeout: unsupported('--health-startup-timeout'),
  IP: unsupported('--ip'),
  IP6: unsupported('--ip6'),
  LogDriver: unsupported('--log-driver'),
  Mask: unsupported('--security-opt mask='),
  Unmask: unsupported('--security-opt unmask='),
  ReadOnlyTmpfs: unsupported('--read-only-tmpfs'),
  Rootfs: unsupported('--rootfs'),
  Secret: unsupported('--secret'),
  SecurityLabelFileType: unsupported('--security-opt label=filetype:'),
  SecurityLabelLevel: unsupported('--security-opt label=level:'),
  SecurityLabelNested: unsupported('--security-opt label=nested'),
  SecurityLabelType: unsupported('--security-opt label=type:'),
  ShmSize: unsupported('--shm-size'),
  Timezone: unsupported('--tz'),
  GlobalArgs: unsupported('global arguments'),
  ContainersConfModule: unsupported('--module'),
};

/** [Volume] keys (podman 4.x). */
const VOLUME_KEYS: Record<string, KeyHandler> = {
  VolumeName: noop,
  Label: flagWords('--label'),
  Driver: flag('--driver'),
  // Options=, User= and Group= become one `--opt o=…` (the local driver's mount options)
  Options: noop,
  User: noop,
  Group: noop,
  Copy: unsupported('--opt copy / nocopy'),
  Device: unsupported('--opt device='),
  Type: unsupported('--opt type='),
  Image: unsupported('--driver image'),
  PodmanArgs: podmanArgs,
  GlobalArgs: unsupported('global arguments'),
  ContainersConfModule: unsupported('--module'),
};

/** [Network] keys (podman 4.x). */
const NETWORK_KEYS: Record<string, KeyHandler> = {
  NetworkName: noop,
  Label: flagWords('--label'),
  Subnet: flag('--subnet'),
  Gateway: flag('--gateway'),
  Internal: boolFlag('--internal'),
  DisableDNS: boolFlag('--disable-dns'),
  Driver: flag('--driver'),
  PodmanArgs: podmanArgs,
  DNS: unsupported('--dns'),
  IPAMDriver: unsupported('--ipam-driver'),
  IPRange: unsupported('--ip-range'),
  IPv6: unsupported('--ipv6'),
  Options: unsupported('--opt'),
  GlobalArgs: unsupported('global arguments'),
  ContainersConfModule: unsupported('--module'),
};

/** [Kube] keys (podman 4.x). */
const KUBE_KEYS: Record<string, KeyHandler> = {
  Yaml: noop,
  AutoUpdate: noop,
  Network: (e, c) => CONTAINER_KEYS.Network!(e, c),
  ConfigMap: (e, c) => c.args.push('--configmap', spec(besideFile(e.file, e.value))),
  LogDriver: flag('--log-driver'),
  PodmanArgs: podmanArgs,
  PublishPort: unsupported('kube play --publish'),
  UserNS: unsupported('kube play --userns'),
  ExitCodePropagation: unsupported('--service-exit-code-propagation'),
  SetWorkingDirectory: unsupported('SetWorkingDirectory'),
  KubeDownForce: unsupported('kube down --force'),
  GlobalArgs: unsupported('global arguments'),
  ContainersConfModule: unsupported('--module'),
};

/** [Pod] keys (podman 5's; pods came to Quadlet there). */
const POD_KEYS: Record<string, KeyHandler> = {
  PodName: noop,
  PublishPort: flag('--publish'),
  Network: (e, c) => CONTAINER_KEYS.Network!(e, c),
  Volume: (e, c) => CONTAINER_KEYS.Volume!(e, c),
  Label: flagWords('--label'),
  PodmanArgs: podmanArgs,
  GlobalArgs: unsupported('global arguments'),
  ContainersConfModule: unsupported('--module'),
};

function newConversion(ctx: QuadletContext): Conversion {
  const c: Conversion = {
    args: [], unit: [], errors: [], ctx,
    words(e) {
      const w = splitWords(e.value);
      if (!w) c.errors.push({ file: e.file, line: e.line, message: `${e.key}: unterminated quote` });
      return w;
    },
  };
  return c;
}

/** Applies `handlers` to the entries of `section`; an unknown key is an error naming file and line. */
function applyKeys(f: UnitFile, section: string, handlers: Record<string, KeyHandler>, c: Conversion): void {
  for (const e of f.sections.get(section) ?? []) {
    const h = handlers[e.key];
    if (!h) c.errors.push({ file: e.file, line: e.line, message: `unknown key ${e.key} in [${section}]` });
    else h(e, c);
  }
}

const last = (f: UnitFile, section: string, key: string): UnitEntry | undefined => (f.sections.get(section) ?? []).filter((e) => e.key === key).at(-1);

/** The passed-through sections, then the generated keys: the whole unit text. */
function render(f: UnitFile, kindSection: string, unitExtra: readonly string[], service: readonly string[]): string {
  const lines = [`# Automatically generated by run-tool systemd-generator from ${f.path}`, '', '[X-' + kindSection + ']'];
  for (const e of f.sections.get(kindSection) ?? []) lines.push(`${e.key}=${e.value}`);
  lines.push('', '[Unit]');
  for (const e of f.sections.get('Unit') ?? []) lines.push(`${e.key}=${e.value}`);
  lines.push(`SourcePath=${f.path}`, ...unitExtra, '', '[Service]');
  for (const e of f.sections.get('Service') ?? []) lines.push(`${e.key}=${e.value}`);
  lines.push(...service);
  if (f.sections.has('Install')) {
    lines.push('', '[Install]');
    for (const e of f.sections.get('Install') ?? []) lines.push(`${e.key}=${e.value}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The converted unit or the problems that stopped it. */
export type Converted = { name: string; text: string; errors?: undefined } | { errors: UnitError[] };

/** Converts one Quadlet file (its kind from the extension). Pure. */
export function convertQuadlet(f: UnitFile, ctx: QuadletContext): Converted {
  const ext = extname(f.path) as keyof typeof QUADLET_KINDS;
  const kind = QUADLET_KINDS[ext];
  const name = serviceNameOf(f.path);
  const c = newConversion(ctx);
  const exe = ctx.executable;
  const base = ['--root', ctx.storeRoot];
  const env = ['Environment=PODMAN_SYSTEMD_UNIT=%n', 'Environment=SKIFF_SYSTEMD_UNIT=%n'];
  if (!f.sections.has(kind)) return { errors: [{ file: f.path, line: 1, message: `no [${kind}] section` }] };
  let service: string[] = [];
  switch (kind) {
    case 'Container': {
      applyKeys(f, kind, CONTAINER_KEYS, c);
      const image = last(f, kind, 'Image');
      if (!image) c.errors.push({ file: f.path, line: 1, message: 'no Image= key in [Container]' });
      const cname = last(f, kind, 'ContainerName')?.value ?? 'systemd-%N';
      const notify = last(f, kind, 'Notify');
      const own = notify && bool(notify, c) ? 'container' : 'conmon';
      const pod = last(f, kind, 'Pod');
      const podArgs: (string | RawArg)[] = [];
      if (pod) {
        const r = reference(pod, pod.value, '.pod', c);
        if (r) {
          c.unit.push(`BindsTo=${r.service}`, `After=${r.service}`);
          podArgs.push('--pod-id-file', { raw: `%t/${r.service.replace(/\.service$/, '')}.pod-id` });
        } else if (!pod.value.endsWith('.pod')) c.errors.push({ file: pod.file, line: pod.line, message: `Pod=${pod.value}: want the name of a .pod file` });
      }
      const group = last(f, kind, 'Group');
      const user = last(f, kind, 'User');
      if (group && !user) c.errors.push({ file: group.file, line: group.line, message: 'Group= needs User=' });
      const userIdx = c.args.findIndex((a) => a === '--user');
      if (group && userIdx >= 0) {
        const v = c.args[userIdx + 1] as { spec: string };
        c.args[userIdx + 1] = spec(`${v.spec}:${group.value}`);
      }
      const stopTimeout = last(f, kind, 'StopTimeout')?.value ?? '10';
      const exec = last(f, kind, 'Exec');
      const execArgs = exec ? c.words(exec) ?? [] : [];
      if (c.errors.length > 0) return { errors: c.errors };
      const cid = { raw: '--cidfile=%t/%N.cid' };
      service = [
        ...env, 'KillMode=mixed', 'Delegate=yes', 'Type=notify', 'NotifyAccess=all', 'SyslogIdentifier=%N',
        ...stopExitLines(last(f, 'Service', 'Restart')?.value ?? 'no'),
        `ExecStartPre=${formatExec(['/bin/rm'], ['-f', { raw: '%t/%N.cid' }])}`,
        `ExecStart=${formatExec(exe, [...base, 'run', spec(`--name=${cname}`), cid, '--replace', '--rm', '--cgroups=split', `--sdnotify=${own}`, '-d', ...podArgs, ...c.args, spec(image!.value), ...execArgs.map(spec)])}`,
        // the stop signal first, SIGKILL after the stop timeout (run-tool's rm -f kills at once without -t)
        `ExecStop=${formatExec(exe, [...base, 'rm', '-v', '-f', '-i', '-t', stopTimeout, cid])}`,
        `ExecStopPost=-${formatExec(exe, [...base, 'rm', '-v', '-f', '-i', '-t', stopTimeout, cid])}`,
      ];
      break;
    }
    case 'Volume': {
      applyKeys(f, kind, VOLUME_KEYS, c);
      const o = [last(f, kind, 'Options')?.value, ...(['User', 'Group'] as const).map((k) => {
        const v = last(f, kind, k)?.value;
        return v === undefined ? undefined : `${k === 'User' ? 'uid' : 'gid'}=${v}`;
      })].filter((x): x is string => x !== undefined && x !== '');
      if (o.length) c.args.push('--opt', spec(`o=${o.join(',')}`));
      if (c.errors.length > 0) return { errors: c.errors };
      const vname = last(f, kind, 'VolumeName')?.value ?? `systemd-${basename(f.path, ext)}`;
      service = [...env, 'Type=oneshot', 'RemainAfterExit=yes', 'SyslogIdentifier=%N', `ExecStart=${formatExec(exe, [...base, 'volume', 'create', '--ignore', ...c.args, spec(vname)])}`];
      break;
    }
    case 'Network': {
      applyKeys(f, kind, NETWORK_KEYS, c);
      if (c.errors.length > 0) return { errors: c.errors };
      const nname = last(f, kind, 'NetworkName')?.value ?? `systemd-${basename(f.path, ext)}`;
      service = [...env, 'Type=oneshot', 'RemainAfterExit=yes', 'SyslogIdentifier=%N', `ExecStart=${formatExec(exe, [...base, 'network', 'create', '--ignore', ...c.args, spec(nname)])}`];
      break;
    }
    case 'Kube': {
      applyKeys(f, kind, KUBE_KEYS, c);
      const yaml = last(f, kind, 'Yaml');
      if (!yaml) c.errors.push({ file: f.path, line: 1, message: 'no Yaml= key in [Kube]' });
      if (c.errors.length > 0) return { errors: c.errors };
      // relative YAML paths are relative to the Quadlet file, as podman's
      const path = besideFile(f.path, yaml!.value);
      service = [...env, 'Type=oneshot', 'RemainAfterExit=yes', 'SyslogIdentifier=%N',
        `ExecStart=${formatExec(exe, [...base, 'kube', 'play', '--replace', ...c.args, spec(path)])}`,
        `ExecStopPost=${formatExec(exe, [...base, 'kube', 'down', spec(path)])}`];
      break;
    }
    case 'Pod': {
      applyKeys(f, kind, POD_KEYS, c);
      if (c.errors.length > 0) return { errors: c.errors };
      const pname = last(f, kind, 'PodName')?.value ?? `systemd-${basename(f.path, ext)}`;
      const members = ctx.podMembers.get(basename(f.path)) ?? [];
      if (members.length) c.unit.push(`Wants=${members.join(' ')}`, `Before=${members.join(' ')}`);
      const pid = { raw: '%t/%N.pid' };
      const podId = { raw: '%t/%N.pod-id' };
      service = [...env, 'Type=forking', 'SyslogIdentifier=%N', 'PIDFile=%t/%N.pid',
        `ExecStartPre=${formatExec(['/bin/rm'], ['-f', pid, podId])}`,
        `ExecStartPre=${formatExec(exe, [...base, 'pod', 'create', '--infra-conmon-pidfile', pid, '--pod-id-file', podId, '--exit-policy=stop', '--replace', spec(`--name=${pname}`), ...c.args])}`,
        `ExecStart=${formatExec(exe, [...base, 'pod', 'start', '--pod-id-file', podId])}`,
        `ExecStop=${formatExec(exe, [...base, 'pod', 'stop', '--ignore', '--pod-id-file', podId, '-t', '10'])}`,
        `ExecStopPost=${formatExec(exe, [...base, 'pod', 'rm', '--ignore', '-f', '--pod-id-file', podId])}`];
      break;
    }
  }
  return { name: `${name}.service`, text: render(f, kind, c.unit, service) };
}
