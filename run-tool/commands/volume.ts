import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { SkiffError, isSkiffError } from '../../shared/errors.ts';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { formatReport, goType, tableHeaders } from '../../shared/cli/go-template.ts';
import { inspectFormat } from './inspect-format.ts';
import { formatTable } from '../../shared/cli/table.ts';
import { openStore } from '../../shared/store/store.ts';
import { createVolume, inspectVolume, listVolumes, pruneVolumes, removeVolume, volumeUsers, type VolumeInfo } from '../containers/volumes.ts';
import { removeContainer } from '../containers/stop-container.ts';
import { collect } from '../../shared/cli/flags.ts';

function keyValues(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    const k = i < 0 ? kv : kv.slice(0, i);
    if (k === '') throw new SkiffError('EINVALID', `invalid ${what} ${JSON.stringify(kv)}: expected KEY=VALUE`);
    out[k] = i < 0 ? '' : kv.slice(i + 1);
  }
  return out;
}

/** `--filter` for volume ls/prune: name=, label=KEY[=VALUE], driver=local, dangling=true|false. */
function volumeFilter(filters: string[], users: Map<string, string[]>): (v: VolumeInfo) => boolean {
  const tests: ((v: VolumeInfo) => boolean)[] = [];
  for (const f of filters) {
    const i = f.indexOf('=');
    const k = i < 0 ? f : f.slice(0, i);
    const val = i < 0 ? '' : f.slice(i + 1);
    switch (k) {
      case 'name':
        tests.push((v) => v.Name.includes(val));
        break;
      case 'label': {
        const j = val.indexOf('=');
        const lk = j < 0 ? val : val.slice(0, j);
        tests.push((v) => lk in v.Labels && (j < 0 || v.Labels[lk] === val.slice(j + 1)));
        break;
      }
      case 'driver':
        tests.push(() => val === 'local');
        break;
      case 'dangling':
        if (val !== 'true' && val !== 'false') throw new SkiffError('EINVALID', `invalid dangling filter value ${JSON.stringify(val)}: use true or false`);
        tests.push((v) => users.has(v.Name) === (val === 'false'));
        break;
      default:
        throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(k)}: use name, label, driver or dangling`);
    }
  }
  return (v) => tests.every((t) => t(v));
}

async function removeContainers(root: string, ids: string[]): Promise<void> {
  const store = await openStore(root, { write: true });
  try {
    for (const id of ids) await removeContainer(store, id, { force: true });
  } finally {
    await store.close();
  }
}

async function confirm(question: string): Promise<boolean> {
  process.stderr.write(question);
  if (process.stdin.isTTY === undefined && process.stdin.readableEnded) return false;
  let answer = '';
  for await (const c of process.stdin) {
    answer += String(c);
    if (answer.includes('\n')) break;
  }
  return /^y(es)?$/i.test(answer.trim());
}

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
    if (a.driver !== 'local') throw new SkiffError('EUNSUPPORTED', `volume driver ${JSON.stringify(a.driver)} is not supported: only local`);
    const v = await createVolume(storeRootOf(create), name ?? randomBytes(32).toString('hex'), { labels: keyValues(a.label, 'label'), options: keyValues(a.opt, 'option'), ignoreExisting: a.ignore === true });
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
    const root = storeRootOf(ls);
    const users = await volumeUsers(root);
    const vols = (await listVolumes(root)).filter(volumeFilter(a.filter, users));
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
    const root = storeRootOf(inspect);
    if (!a.all && names.length === 0) throw new SkiffError('EINVALID', 'provide one or more volume names or use --all');
    const vols = a.all ? await listVolumes(root) : await Promise.all(names.map((n) => inspectVolume(root, n)));
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
    if (!a.all && names.length === 0) throw new SkiffError('EINVALID', 'choose either one or more volumes or all');
    const targets = a.all ? (await listVolumes(root)).map((v) => v.Name) : names;
    const errors: SkiffError[] = [];
    for (const n of targets) {
      try {
        await removeVolume(root, n, a.force ? { removeContainers: (ids) => removeContainers(root, ids) } : {});
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
    const root = storeRootOf(prune);
    const labels: Record<string, string | undefined> = {};
    for (const f of a.filter) {
      const m = /^label=([^=]+)(?:=(.*))?$/s.exec(f);
      if (!m) throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(f)}: use label=KEY[=VALUE]`);
      labels[m[1]!] = m[2];
    }
    if (!a.force && !(await confirm('WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\nAre you sure you want to continue? [y/N] '))) return;
    for (const n of await pruneVolumes(root, a.filter.length > 0 ? { labels } : {})) process.stdout.write(`${n}\n`);
  });
}
