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

const CONTAINER_KEYS: Record<string, KeyHandler> = {
  Image: () => {},
  ContainerName: () => {},
  Exec: () => {},
  Notify: () => {},
  Pod: () => {},
  Environment: flagWords('--env'),
  EnvironmentFile: flag('--env-file'),
  PublishPort: flag('--publish'),
  User: flag('--user'),
  Group: () => {},
  Label: flagWords('--label'),
  WorkingDir: flag('--workdir'),
  HostName: flag('--hostname'),
  ReadOnly: boolFlag('--read-only'),
  RunInit: boolFlag('--init'),
  AddCapability: flagWords('--cap-add'),
  DropCapability: flagWords('--cap-drop'),
  Tmpfs: flag('--tmpfs'),
  Mount: flag('--mount'),
  DNS: flag('--dns'),
  StopTimeout: flag('--stop-timeout'),
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
  PodmanArgs: (e, c) => {
    for (const w of c.words(e) ?? []) c.args.push(spec(w));
  },
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
      applyKeys(f, kind, { VolumeName: () => {}, Label: flagWords('--label') }, c);
      if (c.errors.length > 0) return { errors: c.errors };
      const vname = last(f, kind, 'VolumeName')?.value ?? `systemd-${basename(f.path, ext)}`;
      service = [...env, 'Type=oneshot', 'RemainAfterExit=yes', 'SyslogIdentifier=%N', `ExecStart=${formatExec(exe, [...base, 'volume', 'create', '--ignore', ...c.args, spec(vname)])}`];
      break;
    }
    case 'Network': {
      applyKeys(f, kind, { NetworkName: () => {}, Label: flagWords('--label'), Subnet: flag('--subnet'), Gateway: flag('--gateway'), Internal: boolFlag('--internal'), DisableDNS: boolFlag('--disable-dns'), Driver: flag('--driver') }, c);
      if (c.errors.length > 0) return { errors: c.errors };
      const nname = last(f, kind, 'NetworkName')?.value ?? `systemd-${basename(f.path, ext)}`;
      service = [...env, 'Type=oneshot', 'RemainAfterExit=yes', 'SyslogIdentifier=%N', `ExecStart=${formatExec(exe, [...base, 'network', 'create', '--ignore', ...c.args, spec(nname)])}`];
      break;
    }
    case 'Kube': {
      applyKeys(f, kind, { Yaml: () => {}, PublishPort: flag('--publish'), Network: CONTAINER_KEYS.Network!, AutoUpdate: () => {}, PodmanArgs: CONTAINER_KEYS.PodmanArgs! }, c);
      const yaml = last(f, kind, 'Yaml');
      if (!yaml) c.errors.push({ file: f.path, line: 1, message: 'no Yaml= key in [Kube]' });
      if (c.errors.length > 0) return { errors: c.errors };
      // relative YAML paths are relative to the Quadlet file, as podman's
      const path = yaml!.value.startsWith('/') || yaml!.value.startsWith('%') ? yaml!.value : `${f.path.slice(0, f.path.lastIndexOf('/') + 1)}${yaml!.value}`;
      service = [...env, 'Type=oneshot', 'RemainAfterExit=yes', 'SyslogIdentifier=%N',
        `ExecStart=${formatExec(exe, [...base, 'kube', 'play', '--replace', ...c.args, spec(path)])}`,
        `ExecStopPost=${formatExec(exe, [...base, 'kube', 'down', spec(path)])}`];
      break;
    }
    case 'Pod': {
      applyKeys(f, kind, { PodName: () => {}, PublishPort: flag('--publish'), Network: CONTAINER_KEYS.Network!, Volume: CONTAINER_KEYS.Volume!, Label: flagWords('--label'), PodmanArgs: CONTAINER_KEYS.PodmanArgs! }, c);
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
