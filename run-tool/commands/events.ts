import type { Command } from 'commander';
import { boolOption, collect } from '../../shared/cli/flags.ts';
import { formatReport, goMap, goTimeString, goType, isTableFormat, parseGoTemplate, tableHeaders } from '../../shared/cli/go-template.ts';
import { parseInputTime } from '../../shared/time/input-time.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { printWarningLine } from '../../shared/cli/warning-line.ts';
import { listEvents, type StoreEvent } from '../ops/events.ts';
import { withStore } from './cli-util.ts';

/** podman's reading of a --since/--until or since=/until= filter time: a duration counts back from now for since, forward for until. */
const cliTime = (s: string, what: string): number => parseInputTime(s, what, { direction: what.includes('until') ? 'future' : 'past' });

/** podman 4.3's default line for an event (`{{.Time}} {{.Type}} {{.Status}} …`). Pure. */
export function humanEvent(e: StoreEvent): string {
  const time = goTimeString(e.Time);
  const id = e.ID ?? '';
  switch (e.Type) {
    case 'container':
    case 'pod': {
      const attrs = Object.entries(e.Attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `, ${k}=${v}`).join('');
      return `${time} ${e.Type} ${e.Status} ${id} (image=${e.Image ?? ''}, name=${e.Name}${attrs})`;
    }
    case 'image': return `${time} ${e.Type} ${e.Status} ${id} ${e.Name}`;
    case 'network': return `${time} ${e.Type} ${e.Status} ${id} (name=${e.Name})`;
    case 'volume': return `${time} ${e.Type} ${e.Status} ${e.Name}`;
    default: return `${time} ${e.Type} ${e.Status}`;
  }
}

/** The event as podman's `--format` templates see it: a Go struct (`*events.Event`) with every key (Go's zero values), Time as Go prints it. Pure. */
function view(e: StoreEvent): Record<string, unknown> {
  return goType({
    ContainerExitCode: e.ContainerExitCode ?? 0, ID: e.ID ?? '', Image: e.Image ?? '', Name: e.Name, Network: '', Status: e.Status,
    Time: goTimeString(e.Time), Type: e.Type, Attributes: goMap({ ...(e.Attributes ?? {}) }),
  }, '*events.Event');
}

/** podman's JSON line of an event (its file logger's format, keys in podman's order). Pure. */
function jsonEvent(e: StoreEvent): string {
  const { ContainerExitCode, ID, Image, Name, Status, Time, Type, Attributes } = e;
  return JSON.stringify({ ContainerExitCode, ID, Image, Name, Status, Time, Type, Attributes });
}

/**
 * Adds `events` (podman's): the store's event log, from now on (or replayed with `--since`/`--until`), `--stream=false`
 * to print the past events and exit; `--filter`, `--format json|TEMPLATE`.
 */
export function addEventsCommand(program: Command): void {
  const cmd = program.command('events').description('show podman-style events from the store\'s event log')
    .option('-f, --filter <filter>', 'filter output (container, event, image, label, pod, type, volume, network, since, until)', collect, [] as string[])
    .option('--format <format>', 'format the output using a Go template or "json"')
    .option('--since <time>', 'show all events created since timestamp')
    .option('--until <time>', 'show all events created until timestamp')
    .option('--no-trunc', 'do not truncate the output (default)');
  boolOption(cmd, '--stream', 'stream new events; for testing only (default true)');
  addRootOption(cmd).action(async (f: { filter: string[]; format?: string; since?: string; until?: string; stream?: boolean }) => {
    const format = f.format;
    const stream = f.stream !== false;
    const json = format === 'json' || format === '{{json .}}';
    const table = format !== undefined && !json && isTableFormat(format);
    const tpl = format !== undefined && !json && !table ? parseGoTemplate(format, { name: 'events' }) : undefined;
    if (table) formatReport(format, [], { name: 'events' }); // a parse error fails before any output
    const collected: StoreEvent[] = [];
    const out = (e: StoreEvent): void => {
      if (json) process.stdout.write(`${jsonEvent(e)}\n`);
      else if (tpl) process.stdout.write(`${tpl.render(view(e))}\n`);
      else if (table && !stream) collected.push(e);
      else if (table) process.stdout.write(formatReport(format, [view(e)], { name: 'events', noHeading: true }));
      else process.stdout.write(`${humanEvent(e)}\n`);
    };
    await withStore(cmd, async (store) => {
      if (table && stream) process.stdout.write(formatReport(format, [], { name: 'events', headers: tableHeaders(view(sampleEvent)) }));
      await listEvents(store.paths.root, { filters: f.filter, ...(f.since !== undefined && { since: f.since }), ...(f.until !== undefined && { until: f.until }), stream, parseTime: cliTime, onWarning: printWarningLine }, out);
      if (table && !stream) process.stdout.write(formatReport(format, collected.map(view), { name: 'events', headers: tableHeaders(view(sampleEvent)) }));
    });
  });
}

const sampleEvent: StoreEvent = { Name: '', Status: '', Time: '1970-01-01T00:00:00Z', Type: 'container', Attributes: null };
