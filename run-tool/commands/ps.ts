import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { formatReport, goTimeString, goType, tableHeaders } from '../../shared/cli/go-template.ts';
import { timeAgo, unitsHumanSize } from '../../shared/cli/human.ts';
import { formatTable } from '../../shared/cli/table.ts';
import { checkPsSort, containerSize, listContainers, PS_SORT_KEYS, sortContainers, type ContainerSize, type PsSortKey } from '../ops/list-containers.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkiffError } from '../../shared/errors.ts';
import { stateName, type LoadedContainer, type PortMapping } from '../containers/state.ts';
import { collect } from '../../shared/cli/flags.ts';
import { printWarning, withStore } from './cli-util.ts';

/** The names of the pods `list` belongs to (id → name). Reads the pod records. */
async function podNamesOf(root: string, list: readonly LoadedContainer[]): Promise<Map<string, string>> {
  const ids = [...new Set(list.map((c) => c.record.pod).filter((p): p is string => p !== undefined))];
  if (ids.length === 0) return new Map();
  const { loadPodById } = await import('../pods/state.ts');
  const out = new Map<string, string>();
  for (const id of ids) {
    const r = await loadPodById(root, id);
    if (r) out.set(id, r.name);
  }
  return out;
}

/** `-p` bindings as podman prints them: `127.0.0.1:8080->80/tcp`. Pure. */
export function formatPorts(ports: readonly PortMapping[]): string {
  return ports.map((p) => `${p.hostIP || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ');
}

/** podman's STATUS column: `Up 5 seconds ago` (4.3 wording), `Exited (3) 2 seconds ago`, `Created`. Pure. */
export function statusText(c: LoadedContainer, now = new Date()): string {
  const s = c.state;
  if (s.paused) return 'Paused';
  if (s.initialized) return 'Initialized';
  if (s.status === 'running' || s.status === 'stopping') return `Up ${timeAgo(new Date(s.startedAt), now)}${c.state.health ? ` (${c.state.health.status})` : ''}`;
  if (s.status === 'created') return 'Created';
  return `Exited (${s.exitCode}) ${s.finishedAt ? timeAgo(new Date(s.finishedAt), now) : ''}`.trim();
}

/** The networks a container joined (bridge mode), in podman's order; none for host, none or pasta. Pure. */
function networksOf(c: LoadedContainer): string[] {
  const n = c.record.network as { mode?: string; networks?: string[] } | undefined;
  return n?.mode === 'bridge' ? [...(n.networks ?? [])] : [];
}

/**
 * podman's ListContainerNamespaces as `ps` shows it without `--namespace`: every field empty (`{      }` in a
 * template, `{}` in JSON where the fields are omitted).
 */
const NO_NAMESPACES = { Cgroup: '', IPC: '', MNT: '', NET: '', PIDNS: '', UTS: '', User: '' } as const;

/** The podman `ps --format json` element for a container. Pure. */
export function psJson(c: LoadedContainer, podName = ''): Record<string, unknown> {
  const r = c.record;
  const s = c.state;
  return {
    AutoRemove: r.hostConfig.autoRemove,
    Command: r.args,
    CreatedAt: timeAgo(new Date(r.created)),
    Exited: s.status === 'exited' || s.status === 'stopped',
    ExitedAt: s.finishedAt ? Math.floor(Date.parse(s.finishedAt) / 1000) : -62135596800,
    ExitCode: s.exitCode,
    Id: r.id,
    Image: r.image.name,
    ImageID: r.image.id.slice(7),
    IsInfra: r.isInfra === true,
    Labels: Object.keys(r.config.labels).length ? r.config.labels : null,
    Mounts: r.mounts.map((m) => m.destination),
    Names: [r.name],
    Namespaces: {},
    Networks: networksOf(c),
    Pid: s.pid,
    Pod: r.pod ?? '',
    PodName: podName,
    // podman's JSON has null, not [], for a container without published ports
    Ports: r.hostConfig.portBindings.length === 0 ? null : r.hostConfig.portBindings.map((p) => ({ host_ip: p.hostIP, container_port: p.containerPort, host_port: p.hostPort, range: 1, protocol: p.protocol })),
    Size: null,
    StartedAt: s.startedAt ? Math.floor(Date.parse(s.startedAt) / 1000) : -62135596800,
    State: stateName(s),
    Status: statusText(c),
    Created: Math.floor(Date.parse(r.created) / 1000),
  };
}

/** podman 4.3's `ps --format 'table …'` column headers, by template field. */
const PS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID', Image: 'IMAGE', ImageID: 'IMAGE ID', Command: 'COMMAND', CreatedAt: 'CREATED AT', Created: 'CREATED',
  CreatedHuman: 'CREATED', RunningFor: 'RUNNING FOR', Status: 'STATUS', State: 'STATE', Ports: 'PORTS', Names: 'NAMES',
  Labels: 'LABELS', Pid: 'PID', ExitCode: 'EXIT CODE', Mounts: 'MOUNTS', AutoRemove: 'AUTO REMOVE', Networks: 'NETWORKS',
  Pod: 'POD ID', PodName: 'PODNAME', IsInfra: 'IS INFRA', Namespaces: 'NAMESPACES', Size: 'SIZE', Exited: 'EXITED',
  ExitedAt: 'EXITED AT', StartedAt: 'STARTED AT',
};

/** Adds `ps` (podman's flags, columns and JSON), reconciling each container's state first (RU-12). */
export function addPsCommand(program: Command): void {
  const cmd = program.command('ps').description('list containers')
    .option('-a, --all', 'show all the containers, default is only running containers')
    .option('-q, --quiet', 'print the numeric IDs of the containers only')
    .option('--no-trunc', 'display the extended information')
    .option('-n, --noheading', 'do not print headers')
    .option('-l, --latest', 'show the latest container created')
    .option('-f, --filter <filter>', 'filter output based on conditions given', collect, [])
    .option('-p, --pod', 'print the ID and name of the pod the containers are associated with')
    .option('--format <format>', "pretty-print containers to JSON or using a Go template")
    .option('--sort <key>', `sort output by ${PS_SORT_KEYS.join(', ')}`, 'created')
    .option('-s, --size', 'display the total file sizes')
    .option('--last <n>', 'print the n last created containers (all states)', '-1')
    .option('-w, --watch <seconds>', 'watch the ps output on an interval in seconds');
  addRootOption(cmd).action(async (f: { all?: boolean; quiet?: boolean; trunc: boolean; noheading?: boolean; latest?: boolean; filter: string[]; format?: string; pod?: boolean; sort: string; size?: boolean; last: string; watch?: string }) => {
    const sortKey = checkPsSort(f.sort);
    const last = Number(f.last);
    if (!Number.isInteger(last)) throw new SkiffError('EINVALID', `invalid argument "${f.last}" for "--last" flag: strconv.ParseInt: parsing "${f.last}": invalid syntax`);
    const watch = f.watch === undefined ? undefined : Number(f.watch);
    if (watch !== undefined && !(Number.isInteger(watch) && watch > 0)) throw new SkiffError('EINVALID', `invalid argument "${f.watch}" for "-w, --watch" flag: want a whole number of seconds above 0`);
    if (watch !== undefined && f.format === 'json') throw new SkiffError('EINVALID', '--watch cannot be used with --format json');
    if (f.format !== undefined && f.format !== 'json') formatReport(f.format, [], { name: 'ps' }); // a bad template fails before any output
    if (watch === undefined) return printPs(cmd, f, sortKey, last);
    for (;;) {
      process.stdout.write('\x1b[H\x1b[2J');
      await printPs(cmd, f, sortKey, last);
      if (process.exitCode) return;
      await sleep(watch * 1000);
    }
  });
}

/** One listing of `ps` (the whole output, written at once). */
async function printPs(cmd: Command, f: { all?: boolean; quiet?: boolean; trunc: boolean; noheading?: boolean; latest?: boolean; filter: string[]; format?: string; pod?: boolean; size?: boolean }, sortKey: PsSortKey, last: number): Promise<void> {
  {
    await withStore(cmd, async (store) => {
      let list = await listContainers(store, { all: f.all === true || last > 0, filters: f.filter, latest: f.latest === true, onWarning: printWarning });
      if (last > 0) list = list.slice(0, last);
      const sizes = new Map<string, ContainerSize>();
      if (f.size || sortKey === 'size') for (const c of list) sizes.set(c.record.id, await containerSize(store, c));
      if (sortKey !== 'created') list = sortContainers(list, sortKey, sizes);
      const sizeText = (c: LoadedContainer): string => {
        const z = sizes.get(c.record.id);
        return f.size && z ? `${unitsHumanSize(z.rwSize, 3)} (virtual ${unitsHumanSize(z.rootFsSize, 3)})` : '';
      };
      // pod names only with --pod, as podman (its JSON leaves PodName empty otherwise)
      const podNames = f.pod ? await podNamesOf(store.paths.root, list) : new Map<string, string>();
      const podName = (c: LoadedContainer) => (c.record.pod ? podNames.get(c.record.pod) ?? '' : '');
      const noTrunc = f.trunc === false;
      const out = process.stdout;
      if (f.format === 'json') {
        out.write(`${JSON.stringify(list.map((c) => ({ ...psJson(c, podName(c)), ...(f.size && { Size: sizes.get(c.record.id) ?? null }) })), null, 4)}\n`);
        return;
      }
      if (f.quiet) {
        for (const c of list) out.write(`${noTrunc ? c.record.id : c.record.id.slice(0, 12)}\n`);
        return;
      }
      const rows = list.map((c) => {
        const command = c.record.args.join(' ');
        return {
          ID: noTrunc ? c.record.id : c.record.id.slice(0, 12),
          Image: c.record.image.name,
          ImageID: c.record.image.id.slice(7),
          Command: noTrunc || command.length <= 17 ? command : `${command.slice(0, 17)}…`,
          CreatedAt: goTimeString(c.record.created),
          Created: goTimeString(c.record.created),
          CreatedHuman: timeAgo(new Date(c.record.created)),
          RunningFor: timeAgo(new Date(c.record.created)),
          Status: statusText(c),
          State: stateName(c.state),
          Ports: formatPorts(c.record.hostConfig.portBindings),
          Names: c.record.name,
          Labels: c.record.config.labels,
          Pid: c.state.pid,
          ExitCode: c.state.exitCode,
          Mounts: c.record.mounts.map((m) => m.destination),
          Networks: networksOf(c).join(','),
          Namespaces: goType({ ...NO_NAMESPACES }, 'entities.ListContainerNamespaces'),
          AutoRemove: c.record.hostConfig.autoRemove,
          Pod: c.record.pod ? (noTrunc ? c.record.pod : c.record.pod.slice(0, 12)) : '',
          PodName: podName(c),
          IsInfra: c.record.isInfra === true,
          Size: sizeText(c),
        };
      });
      if (f.format !== undefined) {
        const view = rows.map((r) => goType(r, 'containers.psReporter'));
        out.write(formatReport(f.format, view, { name: 'ps', headers: tableHeaders({}, PS_HEADERS), noHeading: f.noheading === true }));
        return;
      }
      const table: string[][] = rows.map((r) => [r.ID, r.Image, r.Command, r.CreatedHuman, r.Status, r.Ports, r.Names, ...(f.pod ? [r.Pod, r.PodName] : []), ...(f.size ? [r.Size] : [])]);
      if (!f.noheading) table.unshift(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES', ...(f.pod ? ['POD ID', 'PODNAME'] : []), ...(f.size ? ['SIZE'] : [])]);
      out.write(formatTable(table));
    });
  }
}
