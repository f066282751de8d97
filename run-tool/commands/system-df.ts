import type { Command } from 'commander';
import { formatReport, goType, isTableFormat, tableHeaders } from '../../shared/cli/go-template.ts';
import { humanDuration, unitsHumanSize } from '../../shared/cli/human.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { formatTable } from '../../shared/cli/table.ts';
import { SkiffError } from '../../shared/errors.ts';
import { diskUsage, summarizeUsage, type DiskSummary, type DiskUsage } from '../ops/system-df.ts';
import { withStore } from './cli-util.ts';

const dfSize = unitsHumanSize;

/** A summary row as podman's template sees it (Size and Reclaimable formatted, the raw numbers beside them). Pure. */
export function dfRow(s: DiskSummary): Record<string, unknown> {
  const pct = s.RawSize > 0 ? Math.round((s.RawReclaimable / s.RawSize) * 100) : 0;
  return goType({ Type: s.Type, Total: s.Total, Active: s.Active, Size: dfSize(s.RawSize), Reclaimable: `${dfSize(s.RawReclaimable)} (${pct}%)`, RawSize: s.RawSize, RawReclaimable: s.RawReclaimable }, 'system.dfSummary');
}

const age = (d: Date | string | undefined, now: number): string => (d === undefined ? '' : humanDuration((now - new Date(d).getTime()) / 1000));

/** podman's `system df -v` text: the three usage tables. Pure given `now`. */
export function verboseDf(u: DiskUsage, now = Date.now()): string {
  const imgRows = u.images.flatMap((i) => {
    const names = i.names.length ? i.names : ['<none>:<none>'];
    return names.map((n) => {
      const at = n.lastIndexOf(':');
      const repo = at > n.lastIndexOf('/') ? n.slice(0, at) : n;
      const tag = at > n.lastIndexOf('/') ? n.slice(at + 1) : '<none>';
      return [repo, tag, i.id.slice(0, 12), age(i.created, now), dfSize(i.size), dfSize(i.sharedSize), dfSize(i.uniqueSize), String(i.containers)];
    });
  });
  const ctrRows = u.containers.map((c) => [c.id.slice(0, 12), c.imageId.slice(0, 12), c.command.join(' '), String(c.localVolumes), dfSize(c.size), age(c.created, now), c.status, c.name]);
  const volRows = u.volumes.map((v) => [v.name, String(v.links), dfSize(v.size)]);
  return 'Images space usage:\n\n' +
    formatTable([['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'], ...imgRows]) +
    '\nContainers space usage:\n\n' +
    formatTable([['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'], ...ctrRows]) +
    '\nLocal Volumes space usage:\n\n' +
    formatTable([['VOLUME NAME', 'LINKS', 'SIZE'], ...volRows]);
}

/** Adds `system df [-v] [--format json|TEMPLATE]` (podman's columns; JSON is the summary rows, or with -v the three lists). */
export function addSystemDfCommand(program: Command): void {
  const system = program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('manage skiff');
  const cmd = system.command('df').description('show the store\'s disk usage').allowExcessArguments(true)
    .option('--format <format>', 'pretty-print the summary with a Go template, or "json"')
    .option('-v, --verbose', 'show the usage of each image, container and volume');
  addRootOption(cmd).action(async (f: { format?: string; verbose?: boolean }, c: Command) => {
    if (c.args.length > 0) throw new SkiffError('EINVALID', '`run-tool system df` takes no arguments');
    if (f.verbose && f.format !== undefined && f.format !== 'json') throw new SkiffError('EINVALID', 'with --verbose, --format takes only json');
    if (f.format !== undefined && f.format !== 'json') formatReport(f.format, [], { name: 'df' }); // a bad template fails before any work
    const text = await withStore(cmd, async (store) => {
      const u = await diskUsage(store);
      if (f.verbose && f.format === 'json') return `${JSON.stringify({ Images: u.images, Containers: u.containers, Volumes: u.volumes }, null, 4)}\n`;
      if (f.verbose) return verboseDf(u);
      const rows = summarizeUsage(u).map(dfRow);
      if (f.format === 'json') return `${JSON.stringify(rows, null, 4)}\n`;
      const format = f.format ?? 'table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
      return formatReport(format, rows, { name: 'df', ...(isTableFormat(format) && { headers: tableHeaders(rows[0]!, { Type: 'TYPE', Total: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' }) }) });
    });
    if (text !== undefined) process.stdout.write(text);
  });
}
