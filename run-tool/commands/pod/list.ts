import type { Command } from 'commander';
import { addRootOption } from '../../../shared/cli/program.ts';
import { collect } from '../../../shared/cli/flags.ts';
import { formatReport, goMap, tableHeaders } from '../../../shared/cli/go-template.ts';
import { timeAgo } from '../../../shared/cli/human.ts';
import { formatTable } from '../../../shared/cli/table.ts';
import { SkiffError } from '../../../shared/errors.ts';
import { listPods, type PodView } from '../../ops/pods.ts';
import { withStore } from '../cli-util.ts';
import { compareTimestamps } from '../../../shared/time/compare-timestamps.ts';

const t12 = (id: string, noTrunc: boolean) => (noTrunc ? id : id.slice(0, 12));

function containersOf(v: PodView) {
  return [...(v.infra ? [v.infra] : []), ...v.members];
}

function networksOf(v: PodView): string[] {
  const n = v.infra?.record.network as { mode?: string; networks?: string[] } | undefined;
  return n?.mode === 'bridge' ? [...(n.networks ?? [])] : [];
}

/** podman's `pod ps --format json` element. Pure. */
export function podPsJson(v: PodView): Record<string, unknown> {
  return {
    Cgroup: '',
    Containers: containersOf(v).map((c) => ({ Id: c.record.id, Names: c.record.name, Status: c.state.status })),
    Created: v.record.created,
    Id: v.record.id,
    InfraId: v.record.infraId ?? '',
    Name: v.record.name,
    Namespace: '',
    Networks: networksOf(v),
    Status: v.status,
    Labels: v.record.labels,
  };
}

/** `pod ps --filter` (podman's keys). Pure. */
function matchPod(v: PodView, filters: readonly string[]): boolean {
  const by = new Map<string, string[]>();
  for (const f of filters) {
    const i = f.indexOf('=');
    if (i <= 0) throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(f)}: want KEY=VALUE`);
    by.set(f.slice(0, i), [...(by.get(f.slice(0, i)) ?? []), f.slice(i + 1)]);
  }
  const cs = containersOf(v);
  for (const [k, vs] of by) {
    const ok = vs.some((val) => {
      switch (k) {
        case 'id': return v.record.id.startsWith(val);
        case 'name': return new RegExp(val).test(v.record.name);
        case 'label': {
          const j = val.indexOf('=');
          return j < 0 ? val in v.record.labels : v.record.labels[val.slice(0, j)] === val.slice(j + 1);
        }
        case 'status': return v.status.toLowerCase() === val.toLowerCase();
        case 'ctr-names': return cs.some((c) => c.record.name === val);
        case 'ctr-ids': return cs.some((c) => c.record.id.startsWith(val));
        case 'ctr-status': return cs.some((c) => c.state.status === val);
        case 'ctr-number': return String(cs.length) === val;
        case 'network': return networksOf(v).includes(val);
        case 'until': {
          const t = /^[0-9]+$/.test(val) ? Number(val) * 1000 : Date.parse(val);
          if (Number.isNaN(t)) throw new SkiffError('EINVALID', `invalid until filter ${JSON.stringify(val)}`);
          return Date.parse(v.record.created) < t;
        }
        default: throw new SkiffError('EINVALID', `${k} is an invalid filter`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

const SORTS: Record<string, (a: PodView, b: PodView) => number> = {
  created: (a, b) => compareTimestamps(b.record.created, a.record.created),
  id: (a, b) => a.record.id.localeCompare(b.record.id),
  name: (a, b) => a.record.name.localeCompare(b.record.name),
  number: (a, b) => containersOf(a).length - containersOf(b).length,
  status: (a, b) => a.status.localeCompare(b.status),
};

/** podman 4.3's `pod ps` table headers (its ID and Networks columns have none: they print `<no value>`). */
const POD_PS_HEADERS: Record<string, string | null> = {
  Name: 'NAME', Status: 'STATUS', Created: 'CREATED', InfraID: 'INFRA ID', NumberOfContainers: '# OF CONTAINERS', ContainerNames: 'NAMES',
  ContainerIds: 'IDS', ContainerStatuses: 'STATUS', Labels: 'LABELS', Cgroup: 'CGROUP', Namespace: 'NAMESPACE',
};

interface PodPsFlags { ctrNames?: boolean; ctrIds?: boolean; ctrStatus?: boolean; filter: string[]; format?: string; quiet?: boolean; trunc: boolean; sort: string; noheading?: boolean; latest?: boolean; ns?: boolean }

/** Adds `pod ps` / `pod ls` (podman 4.3's columns, flags, filters, JSON and template fields). */
export function addPodPsCommand(pod: Command): void {
  const cmd = pod.command('ps').alias('ls').alias('list').description('list pods')
    .option('--ctr-names', 'display the container names')
    .option('--ctr-ids', 'display the container UUIDs (--no-trunc for full ids)')
    .option('--ctr-status', 'display the container status')
    .option('-f, --filter <filter>', 'filter output based on conditions given', collect, [])
    .option('--format <format>', 'pretty-print pods to JSON or using a Go template')
    .option('-q, --quiet', 'print the full IDs of the pods only')
    .option('--no-trunc', 'do not truncate pod and container IDs')
    .option('--sort <field>', 'sort output by created, id, name, number or status', 'created')
    .option('-n, --noheading', 'do not print headers')
    .option('-l, --latest', 'act on the latest pod')
    .option('--ns', 'display namespace information of the pod (not shown here)');
  addRootOption(cmd).action(async (f: PodPsFlags) => {
    const sort = SORTS[f.sort];
    if (!sort) throw new SkiffError('EINVALID', `invalid option for --sort, options are: created, id, name, number, status`);
    const noTrunc = f.trunc === false;
    await withStore(cmd, async (store) => {
      let list = (await listPods(store)).filter((v) => matchPod(v, f.filter)).sort(sort);
      if (f.latest) list = [...list].sort(SORTS.created!).slice(0, 1);
      const out = process.stdout;
      if (f.quiet) {
        for (const v of list) out.write(`${v.record.id}\n`); // podman prints full ids here, --no-trunc or not
        return;
      }
      if (f.format === 'json') {
        out.write(`${JSON.stringify(list.map(podPsJson), null, 2)}\n`);
        return;
      }
      const rows = list.map((v) => {
        const cs = containersOf(v);
        return {
          ID: t12(v.record.id, noTrunc),
          Name: v.record.name,
          Status: v.status,
          Created: timeAgo(new Date(v.record.created)),
          InfraID: v.record.infraId ? t12(v.record.infraId, noTrunc) : '',
          NumberOfContainers: String(cs.length),
          ContainerNames: cs.map((c) => c.record.name).join(','),
          ContainerIds: cs.map((c) => t12(c.record.id, noTrunc)).join(','),
          ContainerStatuses: cs.map((c) => c.state.status).join(','),
          Labels: v.record.labels,
          Networks: networksOf(v).join(','),
          Cgroup: '',
          Namespace: '',
        };
      });
      if (f.format !== undefined) {
        const view = rows.map((r) => ({ ...r, Labels: goMap(r.Labels) }));
        out.write(formatReport(f.format, view, { name: 'list', headers: tableHeaders({}, POD_PS_HEADERS), noHeading: f.noheading === true }));
        return;
      }
      const head = ['POD ID', 'NAME', 'STATUS', 'CREATED', 'INFRA ID'];
      const extra = (r: (typeof rows)[number]) => {
        const cols: string[] = [];
        if (f.ctrIds) cols.push(r.ContainerIds);
        if (f.ctrNames) cols.push(r.ContainerNames);
        if (f.ctrStatus) cols.push(r.ContainerStatuses);
        if (!f.ctrIds && !f.ctrNames && !f.ctrStatus) cols.push(r.NumberOfContainers);
        return cols;
      };
      const extraHead = [...(f.ctrIds ? ['IDS'] : []), ...(f.ctrNames ? ['NAMES'] : []), ...(f.ctrStatus ? ['STATUS'] : [])];
      const table = rows.map((r) => [r.ID, r.Name, r.Status, r.Created, r.InfraID, ...extra(r)]);
      if (!f.noheading) table.unshift([...head, ...(extraHead.length ? extraHead : ['# OF CONTAINERS'])]);
      out.write(formatTable(table));
    });
  });
}
