import { setTimeout as wait } from 'node:timers/promises';
import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { formatReport, goType } from '../../shared/cli/go-template.ts';
import { formatTable } from '../../shared/cli/table.ts';
import { printWarning, withStore } from './cli-util.ts';
import { zeroStats, type ContainerStats } from '../containers/container-stats.ts';
import { checkStatsSupported, statsRound } from '../ops/container-stats.ts';
import { STATS_HEADER, statsHeaderFor, statsJson, statsRow, statsTemplateView, statsText } from './stats-format.ts';
import { exitError } from '../containers/exit-status.ts';

interface StatsFlags {
  all?: boolean;
  format?: string;
  interval: string;
  latest?: boolean;
  reset: boolean;
  stream: boolean;
  trunc: boolean;
}

/** podman's `-i` check: a whole number of seconds, at least 1. */
function parseInterval(v: string): number {
  if (!/^[+-]?\d+$/.test(v.trim())) throw exitError(125, `invalid argument ${JSON.stringify(v)} for "-i, --interval" flag: strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  const n = Number(v);
  if (!(n >= 1)) throw exitError(125, 'invalid interval, must be a positive number greater zero');
  return n;
}

/** Renders one round of data points in the chosen output form (always ends with a newline, or is empty JSON `[]`). */
function renderRound(stats: readonly ContainerStats[], f: StatsFlags, tmpl: { format: string } | undefined): string {
  const noTrunc = f.trunc === false;
  if (isJsonFormat(f.format)) return `${JSON.stringify(stats.map((s) => statsJson(statsText(s, noTrunc))), null, 1)}\n`;
  if (tmpl) {
    const views = stats.map((s) => goType(statsTemplateView(s, noTrunc), 'containers.containerStats'));
    return formatReport(tmpl.format, views, { name: 'stats', headers: headerData() });
  }
  return formatTable([[...STATS_HEADER], ...stats.map((s) => statsRow(statsText(s, noTrunc)))]);
}

function isJsonFormat(format: string | undefined): boolean {
  return format !== undefined && /^\s*(json|\{\{\s*json\s+\.\s*\}\})\s*$/.test(format);
}

/** Header strings under every name a template can address. */
function headerData(): Record<string, string> {
  return Object.fromEntries(Object.keys(statsTemplateView(zeroStats({ id: '', name: '' }))).map((k) => [k, statsHeaderFor(k)]));
}

/**
 * Checks `--format` once, before any output (a syntax error fails with Go's message): a template, or undefined
 * for the default table (`table` alone too). `table …` prints a header and aligns columns, as podman's formatter.
 */
function parseFormat(format: string | undefined): { format: string } | undefined {
  if (format === undefined || format === '' || isJsonFormat(format) || /^\s*table\s*$/.test(format)) return undefined;
  formatReport(format, [], { name: 'stats', noHeading: true });
  return { format };
}

/**
 * Adds `stats` (podman 4.3's): CPU, memory, network, block I/O and pids of containers read from their cgroups.
 * Streams a round every `-i` seconds (redrawing the screen on a terminal unless --no-reset, printing blocks
 * otherwise) until SIGINT/SIGTERM (exit 1, as podman) or a named container is removed (podman's lookup error, 125);
 * `--no-stream` prints one round. Unknown containers → 125 before any output; rootless on cgroups v1 → 125.
 */
export function addStatsCommand(program: Command): void {
  const cmd = program.command('stats').description('display a live stream of container resource usage statistics').argument('[containers...]')
    .option('-a, --all', 'show all containers; only running containers are shown by default')
    .option('--format <format>', 'pretty-print container statistics to JSON or using a Go template')
    .option('-i, --interval <seconds>', 'time in seconds between stats reports', '5')
    .option('-l, --latest', 'act on the latest container run-tool is aware of')
    .option('--no-reset', 'disable resetting the screen between intervals')
    .option('--no-stream', 'disable streaming stats and only pull the first result')
    .option('--no-trunc', 'do not truncate output');
  addRootOption(cmd).action(async (names: string[], f: StatsFlags) => {
    await withStore(cmd, async (store) => {
      const interval = parseInterval(f.interval);
      if (f.latest && names.length > 0) throw exitError(125, '--latest and containers cannot be used together');
      checkStatsSupported();
      const tmpl = parseFormat(f.format);
      const ac = new AbortController();
      const onSig = (): void => ac.abort();
      process.once('SIGINT', onSig).once('SIGTERM', onSig);
      const out = process.stdout;
      const redraw = f.reset && out.isTTY === true;
      const prev = new Map<string, ContainerStats>();
      try {
        for (;;) {
          const round = await statsRound(store, names, { all: f.all === true, latest: f.latest === true, previous: prev, onWarning: printWarning });
          if (ac.signal.aborted) break;
          out.write(`${redraw ? '\x1b[2J\x1b[1;1H' : ''}${renderRound(round, f, tmpl)}`);
          if (!f.stream) return;
          await wait(interval * 1000, undefined, { signal: ac.signal }).catch(() => {}); // an interrupted loop ends quietly
          if (ac.signal.aborted) break;
        }
        process.exitCode = 1; // podman exits 1 when interrupted
      } finally {
        process.off('SIGINT', onSig).off('SIGTERM', onSig);
      }
    });
  });
}
