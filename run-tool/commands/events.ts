import type { Command } from 'commander';
import { boolOption, collect } from '../../shared/cli/flags.ts';
import { formatReport, goMap, goType, isTableFormat, parseGoTemplate, tableHeaders } from '../../shared/cli/go-template.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { humanEvent, listEvents, templateEvent, type StoreEvent } from '../ops/events.ts';
import { withStore } from './cli-util.ts';

/** podman's JSON line of an event (its file logger's format, keys in podman's order). Pure. */
function jsonEvent(e: StoreEvent): string {
  const { ContainerExitCode, ID, Image, Name, Status, Time, Type, Attributes } = e;
  return JSON.stringify({ ContainerExitCode, ID, Image, Name, Status, Time, Type, Attributes });
}

/** The template view of an event: a Go struct (`*events.Event`) with a map of attributes. */
function view(e: StoreEvent): Record<string, unknown> {
  const v = templateEvent(e);
  v.Attributes = goMap({ ...(v.Attributes as Record<string, string>) });
  return goType(v, '*events.Event');
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
      await listEvents(store.paths.root, { filters: f.filter, ...(f.since !== undefined && { since: f.since }), ...(f.until !== undefined && { until: f.until }), stream }, out);
      if (table && !stream) process.stdout.write(formatReport(format, collected.map(view), { name: 'events', headers: tableHeaders(view(sampleEvent)) }));
    });
  });
}

const sampleEvent: StoreEvent = { Name: '', Status: '', Time: '1970-01-01T00:00:00Z', Type: 'container', Attributes: null };
