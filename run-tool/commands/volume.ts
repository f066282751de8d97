import type { Command } from 'commander';
import { SkiffError, isSkiffError } from '../../shared/errors.ts';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { formatReport, goType, tableHeaders } from '../../shared/cli/go-template.ts';
import { inspectFormat } from './inspect-format.ts';
import { formatTable } from '../../shared/cli/table.ts';
import { createNamedVolume, inspectVolumes, listVolumesMatching, pruneLabelFilters, pruneUnusedVolumes, removeNamedVolume, volumesToRemove } from '../ops/volumes.ts';
import { collect, keyValueFlags } from '../../shared/cli/flags.ts';
import { confirm, printWarning } from './cli-util.ts';

/** Adds podman's `volume create|ls|inspect|rm|prune` with its flags, columns and JSON. */
export function addVolumeCommands(program: Command): void {
  const volume = program.command('volume').description('manage named volumes');

  const create = volume
    .command('create')
    .description('create a named volume')
    .argument('[name]', 'volume name (default: a random 64-hex name)')
    .option('-l, --label <key=value>', 'set a label', collect, [])
    .option('-o, --opt <key=value>', 'set a driver option (local: o=uid=N,gid=N)', collect, [])
    .option('-d, --driver <driver>', 'volume driver (only local)', 'local')
    .option('--ignore', 'do not fail when the volume exists');
  addRootOption(create).action(async (name: string | undefined, a: { label: string[]; opt: string[]; driver: string; ignore?: boolean }) => {
    const v = await createNamedVolume(storeRootOf(create), name, { labels: keyValueFlags(a.label, 'label'), options: keyValueFlags(a.opt, 'option'), driver: a.driver, ignoreExisting: a.ignore === true });
    process.stdout.write(`${v.Name}\n`);
  });

  const ls = volume
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('-q, --quiet', 'print volume names only')
    .option('--format <format>', "'json' or a Go template, e.g. '{{.Name}}'")
    .option('-f, --filter <filter>', 'filter: name=, label=KEY[=VALUE], driver=, dangling=true|false', collect, [])
    .option('-n, --noheading', 'do not print the column headings');
  addRootOption(ls).action(async (a: { quiet?: boolean; format?: string; filter: string[]; noheading?: boolean }) => {
    const vols = await listVolumesMatching(storeRootOf(ls), a.filter);
    const out = process.stdout;
    if (a.format === 'json') return void out.write(`${JSON.stringify(vols, null, 2)}\n`);
    if (a.quiet) return void out.write(vols.map((v) => `${v.Name}\n`).join(''));
    if (a.format !== undefined) {
      const view = vols.map((v) => goType({ ...v }, '*entities.VolumeListReport'));
      out.write(formatReport(a.format, view, { name: 'ls', headers: tableHeaders({ Name: '', Driver: '', Mountpoint: '', Scope: '', Labels: '', Options: '', CreatedAt: '' }, { Name: 'VOLUME NAME' }), noHeading: a.noheading === true }));
      return;
    }
    const rows = vols.map((v) => [v.Driver, v.Name]);
    if (!a.noheading) rows.unshift(['DRIVER', 'VOLUME NAME']);
    out.write(formatTable(rows));
  });

  const inspect = volume
    .command('inspect')
    .description('show volume details as JSON')
    .argument('[names...]', 'volume names')
    .option('-a, --all', 'inspect all volumes')
    .option('-f, --format <format>', 'a Go template, e.g. {{.Mountpoint}}');
  addRootOption(inspect).action(async (names: string[], a: { all?: boolean; format?: string }) => {
    const vols = await inspectVolumes(storeRootOf(inspect), names, { all: a.all === true });
    if (a.format !== undefined && a.format !== 'json') {
      process.stdout.write(inspectFormat(a.format, vols));
      return;
    }
    process.stdout.write(`${JSON.stringify(vols, null, 5)}\n`);
  });

  const rm = volume
    .command('rm')
    .alias('remove')
    .description('remove volumes')
    .argument('[names...]', 'volume names')
    .option('-a, --all', 'remove all volumes')
    .option('-f, --force', 'remove the containers using the volume first');
  addRootOption(rm).action(async (names: string[], a: { all?: boolean; force?: boolean }) => {
    const root = storeRootOf(rm);
    const targets = await volumesToRemove(root, names, { all: a.all === true });
    const errors: SkiffError[] = [];
    for (const n of targets) {
      try {
        await removeNamedVolume(root, n, { force: a.force === true, onWarning: printWarning });
        process.stdout.write(`${n}\n`);
      } catch (e) {
        if (!isSkiffError(e)) throw e;
        errors.push(e);
      }
    }
    for (const e of errors.slice(0, -1)) process.stderr.write(`Error: ${e.message}\n`);
    if (errors.length > 0) throw errors[errors.length - 1];
  });

  const prune = volume
    .command('prune')
    .description('remove every volume no container uses')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--filter <filter>', 'only volumes with this label: label=KEY[=VALUE]', collect, []);
  addRootOption(prune).action(async (a: { force?: boolean; filter: string[] }) => {
    const labels = pruneLabelFilters(a.filter);
    if (!a.force && !(await confirm('WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\nAre you sure you want to continue? [y/N] '))) return;
    for (const n of await pruneUnusedVolumes(storeRootOf(prune), labels)) process.stdout.write(`${n}\n`);
  });
}
