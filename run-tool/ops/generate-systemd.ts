// The `generate systemd` operation: systemd units for a container, or for a pod and each of its members, in
// current podman's shapes. Every Exec line names the store (`--root`) and runs run-tool through an absolute Node,
// so the units work under systemd's default PATH and on a non-default store. Plain options in, unit texts out.
import { isSkiffError, SkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { containerPaths, loadContainer, type LoadedContainer } from '../containers/state.ts';
import { findPod } from '../pods/state.ts';
import type { PodRecord } from '../pods/state.ts';
import { splitCreateCommand, type TakesValue } from '../systemd/create-command.ts';
import { formatExec, renderUnit, type RawArg, type UnitCommon } from '../systemd/unit-text.ts';

/** The restart policies systemd's Restart= takes (podman's list). */
export const SYSTEMD_RESTART_POLICIES = ['no', 'on-success', 'on-failure', 'on-abnormal', 'on-watchdog', 'on-abort', 'always'] as const;

/** generateSystemd's options (podman's flags). */
export interface GenerateSystemdOptions {
  /** `--new`: the unit creates the container (pod) on start and removes it on stop */
  new?: boolean;
  /** `--name`: name the units and Exec lines by name instead of ID */
  useName?: boolean;
  restartPolicy?: string;
  restartSec?: number;
  /** seconds to wait for stop (default: the container's stop timeout, a pod's 10) */
  stopTimeout?: number;
  startTimeout?: number;
  containerPrefix?: string;
  podPrefix?: string;
  separator?: string;
  after?: readonly string[];
  wants?: readonly string[];
  requires?: readonly string[];
  /** extra Environment= entries, KEY=VALUE */
  env?: readonly string[];
  template?: boolean;
  noHeader?: boolean;
  /** `# <date>` under the header */
  timestamp?: string;
  /** the words every Exec line starts with: an absolute Node and run-tool's script */
  executable: readonly string[];
  /** which of `run`'s flags take a value (to read a recorded command line) */
  runTakesValue: TakesValue;
  /** which of `pod create`'s flags take a value */
  podCreateTakesValue: TakesValue;
  version: string;
}

const raw = (s: string): RawArg => ({ raw: s });
const CTR_DROP = new Set(['--cidfile', '--rm', '-d', '--detach', '--cgroups', '--sdnotify', '--replace', '--root', '--pod', '--pod-id-file', '--restart']);
const POD_DROP = new Set(['--infra-conmon-pidfile', '--pod-id-file', '--exit-policy', '--replace', '--root']);

/**
 * Units for the container or pod `nameOrId` (a container first, as podman looks): service name → unit text.
 * EINVALID for a bad restart policy, `--template` without `--new`, `--new` on something with no recorded create
 * command, or a pod without an infra container; ENOTFOUND when neither exists.
 */
export async function generateSystemd(store: Store, nameOrId: string, o: GenerateSystemdOptions): Promise<Map<string, string>> {
  if (o.restartPolicy !== undefined && !(SYSTEMD_RESTART_POLICIES as readonly string[]).includes(o.restartPolicy)) {
    throw new SkiffError('EINVALID', `${o.restartPolicy} is not a valid restart policy`, { hint: `use one of ${SYSTEMD_RESTART_POLICIES.join(', ')}` });
  }
  if (o.template && !o.new) throw new SkiffError('EINVALID', '--template cannot be set without --new');
  let c: LoadedContainer | undefined;
  try {
    c = await loadContainer(store.paths.root, nameOrId);
  } catch (e) {
    if (!isSkiffError(e, 'ENOTFOUND')) throw e;
  }
  const out = new Map<string, string>();
  if (c && !c.record.isInfra) {
    const pod = c.record.pod ? await findPod(store.paths.root, c.record.pod) : undefined;
    out.set(containerServiceName(c, o), containerUnit(store, c, pod, o));
    return out;
  }
  let pod: PodRecord;
  try {
    pod = c?.record.pod ? await findPod(store.paths.root, c.record.pod) : await findPod(store.paths.root, nameOrId);
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND')) throw new SkiffError('ENOTFOUND', `${nameOrId} does not refer to a container or pod: no pod with name or ID ${nameOrId} found: no such pod`);
    throw e;
  }
  if (!pod.infra || !pod.infraId) throw new SkiffError('EINVALID', `pod ${pod.name} has no infra container: generating systemd units needs one`, { hint: 'create the pod with an infra container (the default)' });
  const members: LoadedContainer[] = [];
  for (const id of pod.members) members.push(await loadContainer(store.paths.root, id));
  for (const m of members) out.set(containerServiceName(m, o), containerUnit(store, m, pod, o));
  out.set(podServiceName(pod, o), podUnit(store, pod, members, o));
  return out;
}

/** A unit's instance name in Exec lines and run-time files: `<name>@%i` for a template, else `<name>`. Pure. */
function instanceOf(name: string, o: GenerateSystemdOptions): string {
  return `${name}${o.template ? '@%i' : ''}`;
}

/** A unit name as other units name it: `<name>@%i.service` for a template's instance, else `<name>.service`. Pure. */
function unitRef(name: string, o: GenerateSystemdOptions): string {
  return `${instanceOf(name, o)}.service`;
}

/**
 * `--template`: each instance's container (or pod) is named after the instance, as podman does — `-%i` appended to
 * a recorded --name, or `--name=<service name>-%i` added. Names are [a-zA-Z0-9_.-] only, so nothing needs quoting.
 */
function templateName(flags: readonly string[], serviceName: string): (string | RawArg)[] {
  const out: (string | RawArg)[] = [];
  let named = false;
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i]!;
    if (f === '--name' && i + 1 < flags.length) {
      out.push(raw(`--name=${flags[++i]!}-%i`));
      named = true;
    } else if (f.startsWith('--name=')) {
      out.push(raw(`${f}-%i`));
      named = true;
    } else out.push(f);
  }
  return named ? out : [raw(`--name=${serviceName}-%i`), ...out];
}

function containerServiceName(c: LoadedContainer, o: GenerateSystemdOptions): string {
  return `${o.containerPrefix ?? 'container'}${o.separator ?? '-'}${o.useName ? c.record.name : c.record.id}`;
}

function podServiceName(p: PodRecord, o: GenerateSystemdOptions): string {
  return `${o.podPrefix ?? 'pod'}${o.separator ?? '-'}${o.useName ? p.name : p.id}`;
}

function common(store: Store, serviceName: string, o: GenerateSystemdOptions, stopTimeout: number, restartPolicy: string): UnitCommon {
  return {
    serviceName,
    ...(o.template && { template: true }),
    ...(o.noHeader && { noHeader: true }),
    ...(o.timestamp !== undefined && { timestamp: o.timestamp }),
    version: o.version,
    runRoot: store.paths.root,
    wants: o.wants ?? [],
    after: o.after ?? [],
    requires: o.requires ?? [],
    env: o.env ?? [],
    restartPolicy,
    ...(o.restartSec !== undefined && { restartSec: o.restartSec }),
    ...(o.startTimeout !== undefined && { startTimeout: o.startTimeout }),
    stopTimeout,
  };
}

/** The container's own policy as a unit's Restart= when no --restart-policy is given (podman moves it to the unit). */
function restartOf(c: LoadedContainer, o: GenerateSystemdOptions): string {
  if (o.restartPolicy !== undefined) return o.restartPolicy;
  const p = c.record.hostConfig.restartPolicy.name;
  return p === 'always' || p === 'unless-stopped' ? 'always' : 'on-failure';
}

function containerUnit(store: Store, c: LoadedContainer, pod: PodRecord | undefined, o: GenerateSystemdOptions): string {
  const root = store.paths.root;
  const stop = o.stopTimeout ?? c.record.config.stopTimeout;
  const ref = o.useName ? c.record.name : c.record.id;
  const exe = o.executable;
  const base = ['--root', root];
  const unitExtra = pod ? [`BindsTo=${unitRef(podServiceName(pod, o), o)}`, `After=${unitRef(podServiceName(pod, o), o)}`] : [];
  const cm = { ...common(store, containerServiceName(c, o), o, stop, restartOf(c, o)), container: true };
  if (!o.new) {
    return renderUnit(cm, unitExtra, {
      execStartPre: [],
      execStart: formatExec(exe, [...base, 'start', ref]),
      execStop: formatExec(exe, [...base, 'stop', '-t', String(stop), ref]),
      execStopPost: formatExec(exe, [...base, 'stop', '-t', String(stop), ref]),
      pidFile: containerPaths(root, c.record.id).conmonPid,
      type: 'forking',
    });
  }
  const cmd = c.record.createCommand;
  if (!cmd || cmd.length === 0) throw new SkiffError('EINVALID', `container ${c.record.name} has no recorded create command: --new cannot recreate it`, { hint: 'generate without --new, or recreate the container with this run-tool' });
  const split = splitCreateCommand(cmd, ['run'], o.runTakesValue, CTR_DROP);
  const hasName = split.flags.some((f) => f === '--name' || f.startsWith('--name='));
  const given = splitCreateCommand(cmd, ['run'], o.runTakesValue, new Set()).flags;
  // a container made without a cgroup keeps that (its monitor is in the unit's cgroup either way)
  const cgroupsMode = flagValue(given, '--cgroups') === 'disabled' ? '--cgroups=disabled' : '--cgroups=no-conmon';
  // podman keeps a container's own --sdnotify=container (its READY=1 then reaches the unit through conmon's
  // proxy); conmon otherwise, ignore included (a Type=notify unit would never become ready)
  const sdNotify = c.record.sdNotify === undefined && flagValue(given, '--sdnotify') === 'container' ? 'container' : 'conmon';
  const cid = raw('--cidfile=%t/%n.ctr-id');
  const podFile = pod ? [raw('--pod-id-file'), raw(`%t/${instanceOf(podServiceName(pod, o), o)}.pod-id`)] : [];
  const flags = o.template ? templateName(split.flags, cm.serviceName) : split.flags;
  return renderUnit(cm, unitExtra, {
    execStartPre: [formatExec(['/bin/rm'], ['-f', raw('%t/%n.ctr-id')])],
    execStart: formatExec(exe, [...base, 'run', cid, cgroupsMode, '--rm', `--sdnotify=${sdNotify}`, '-d', ...(hasName || o.template ? ['--replace'] : []), ...podFile, ...flags, ...split.positionals]),
    execStop: formatExec(exe, [...base, 'stop', '--ignore', '-t', String(stop), cid]),
    execStopPost: formatExec(exe, [...base, 'rm', '-f', '--ignore', '-t', String(stop), cid]),
    type: 'notify',
    notifyAccess: 'all',
  });
}

/** The value recorded flags (splitCreateCommand's) last gave the long flag `name` (`--flag=v` or `--flag v`); undefined if none. Pure. */
function flagValue(flags: readonly string[], name: string): string | undefined {
  let v: string | undefined;
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] === name) v = flags[i + 1];
    else if (flags[i]!.startsWith(`${name}=`)) v = flags[i]!.slice(name.length + 1);
  }
  return v;
}

function podUnit(store: Store, pod: PodRecord, members: readonly LoadedContainer[], o: GenerateSystemdOptions): string {
  const root = store.paths.root;
  const stop = o.stopTimeout ?? 10;
  const exe = o.executable;
  const base = ['--root', root];
  const name = podServiceName(pod, o);
  const services = members.map((m) => unitRef(containerServiceName(m, o), o));
  const unitExtra = services.length ? [`Wants=${services.join(' ')}`, `Before=${services.join(' ')}`] : [];
  const cm = common(store, name, o, stop, o.restartPolicy ?? 'on-failure');
  const infra = o.useName && pod.infraName ? pod.infraName : pod.infraId!;
  if (!o.new) {
    return renderUnit(cm, unitExtra, {
      execStartPre: [],
      execStart: formatExec(exe, [...base, 'start', infra]),
      execStop: formatExec(exe, [...base, 'stop', '-t', String(stop), infra]),
      execStopPost: formatExec(exe, [...base, 'stop', '-t', String(stop), infra]),
      pidFile: containerPaths(root, pod.infraId!).conmonPid,
      type: 'forking',
    });
  }
  if (pod.createCommand.length === 0) throw new SkiffError('EINVALID', `pod ${pod.name} has no recorded create command: --new cannot recreate it`, { hint: 'generate without --new' });
  const split = splitCreateCommand(pod.createCommand, ['pod', 'create'], o.podCreateTakesValue, POD_DROP);
  const inst = instanceOf(name, o);
  const pid = raw(`%t/${inst}.pid`);
  const podId = raw(`%t/${inst}.pod-id`);
  const flags = o.template ? templateName(split.flags, name) : split.flags;
  return renderUnit(cm, unitExtra, {
    execStartPre: [
      formatExec(['/bin/rm'], ['-f', pid, podId]),
      formatExec(exe, [...base, 'pod', 'create', '--infra-conmon-pidfile', pid, '--pod-id-file', podId, '--exit-policy=stop', ...flags, ...split.positionals, '--replace']),
    ],
    execStart: formatExec(exe, [...base, 'pod', 'start', '--pod-id-file', podId]),
    execStop: formatExec(exe, [...base, 'pod', 'stop', '--ignore', '--pod-id-file', podId, '-t', String(stop)]),
    execStopPost: formatExec(exe, [...base, 'pod', 'rm', '--ignore', '-f', '--pod-id-file', podId]),
    pidFile: `%t/${inst}.pid`,
    type: 'forking',
  });
}
