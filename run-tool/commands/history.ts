import { Option, type Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { formatReport, goTimeString, goType, tableHeaders } from '../../shared/cli/go-template.ts';
import { humanSize, timeAgo } from '../../shared/cli/human.ts';
import { formatTable } from '../../shared/cli/table.ts';
import { parseBool } from '../../shared/cli/flags.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { imageHistory, type HistoryRow } from '../ops/image-history.ts';
import { withStore } from './cli-util.ts';

/** RFC 3339 to the second, as podman prints history times (`2026-12-07T03:26:58Z`). */
function seconds(created: string): string {
  const ms = Date.parse(created);
  return Number.isNaN(ms) ? '' : `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** podman's template fields of one history row. */
function templateRow(r: HistoryRow, human: boolean, noTrunc: boolean): Record<string, unknown> {
  const ms = Date.parse(r.created);
  const since = Number.isNaN(ms) ? '' : timeAgo(new Date(ms));
  let createdBy = r.createdBy;
  if (!noTrunc && createdBy.length > 45) createdBy = `${createdBy.slice(0, 42)}...`;
  return {
    ID: noTrunc || r.id === '<missing>' ? r.id : r.id.slice(0, 12),
    Created: human ? since : seconds(r.created),
    CreatedSince: since,
    CreatedAt: seconds(r.created) === '' ? '' : goTimeString(seconds(r.created)),
    CreatedBy: createdBy,
    Size: humanSize(r.size),
    Comment: r.comment,
    Tags: r.tags,
  };
}

/**
 * Adds `history [-H] [--no-trunc] [-q] [--format json|TEMPLATE] IMAGE` (podman 4.3's columns ID, CREATED,
 * CREATED BY, SIZE, COMMENT; its JSON keys id, created, CreatedBy, size, comment, Created).
 */
export function addHistoryCommand(program: Command): void {
  const cmd = program
    .command('history')
    .description('show history of a specified image')
    .argument('<image>')
    .option('--format <format>', "'json' or a Go template")
    .addOption(new Option('-H, --human [bool]', 'display sizes and dates in human readable format').argParser((v: string) => parseBool(v.replace(/^=/, ''))).default(true))
    .option('--no-trunc', 'do not truncate the output')
    .option('--notruncate', 'do not truncate the output')
    .option('-q, --quiet', 'display the numeric IDs only');
  addRootOption(cmd).action(async (image: string, f: { format?: string; human: boolean; trunc: boolean; notruncate?: boolean; quiet?: boolean }) => {
    const human = f.human;
    const noTrunc = !f.trunc || f.notruncate === true;
    const interrupt = interruptSignal();
    try {
      await withStore(cmd, async (store) => {
        const rows = await imageHistory(store, image, { signal: interrupt.signal });
        const out = process.stdout;
        if (f.format === 'json') {
          const doc = rows.map((r) => ({ id: r.id, ...(r.created && { created: r.created }), CreatedBy: r.createdBy, size: r.size, comment: r.comment, ...(r.tags.length > 0 && { tags: r.tags }), Created: seconds(r.created) }));
          return void out.write(`${JSON.stringify(doc)}\n`);
        }
        const view = rows.map((r) => templateRow(r, human, noTrunc));
        if (f.quiet) return void out.write(view.map((v) => `${String(v.ID)}\n`).join(''));
        if (f.format !== undefined) {
          const headers = tableHeaders(view[0] ?? templateRow({ id: '', created: '', createdBy: '', size: 0, comment: '', tags: [] }, human, noTrunc), { CreatedBy: 'CREATED BY' });
          out.write(formatReport(f.format, view.map((v) => goType(v, 'images.historyReporter')), { name: 'history', headers }));
          return;
        }
        const table = view.map((v) => [String(v.ID), String(v.Created), String(v.CreatedBy), String(v.Size), String(v.Comment)]);
        table.unshift(['ID', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT']);
        out.write(formatTable(table));
      });
    } finally {
      interrupt.dispose();
    }
  });
}
