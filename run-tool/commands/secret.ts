import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { formatReport, goType, tableHeaders } from '../../shared/cli/go-template.ts';
import { timeAgo } from '../../shared/cli/human.ts';
import { formatTable } from '../../shared/cli/table.ts';
import { collect, keyValueFlags } from '../../shared/cli/flags.ts';
import { SkiffError, isSkiffError } from '../../shared/errors.ts';
import { SECRET_MAX_BYTES, type SecretInfo } from '../containers/secrets.ts';
import { createSecret, inspectSecrets, listSecretsMatching, removeSecret } from '../ops/secrets.ts';
import { inspectFormat } from './inspect-format.ts';

/** Reads at most SECRET_MAX_BYTES from `input` (EINVALID beyond: the data is never held unbounded). */
async function readCapped(input: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of input) {
    n += (c as Buffer).length;
    if (n >= SECRET_MAX_BYTES) {
      input.destroy();
      throw new SkiffError('EINVALID', `secret data must be larger than 0 and less than ${SECRET_MAX_BYTES} bytes`);
    }
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts);
}

/** podman's `secret ls` template fields. */
function rowOf(s: SecretInfo): Record<string, unknown> {
  return { ID: s.ID, Name: s.Spec.Name, Driver: s.Spec.Driver.Name, CreatedAt: timeAgo(new Date(s.CreatedAt)), UpdatedAt: timeAgo(new Date(s.UpdatedAt)), Labels: s.Spec.Labels };
}

/**
 * Adds podman 4.3's `secret create [--env] [-d file] [-l K=V] NAME FILE|-`, `secret ls [-q] [--noheading] [--format]
 * [-f name=|id=]`, `secret inspect [-f FORMAT] NAME…` and `secret rm [-a] NAME…`. Data is read capped and stored
 * 0600; no command ever prints it.
 */
export function addSecretCommands(program: Command): void {
  const secret = program.command('secret').description('manage secrets');

  const create = secret
    .command('create')
    .description('create a new secret')
    .argument('<name>')
    .argument('<file>', 'file to read the data from, - for stdin, or with --env the variable holding it')
    .option('-d, --driver <driver>', 'specify secret driver', 'file')
    .option('--driver-opts <key=value>', 'specify driver specific options', collect, [])
    .option('--env', 'read secret data from environment variable')
    .option('-l, --label <key=value>', 'specify labels on the secret', collect, []);
  addRootOption(create).action(async (name: string, file: string, f: { driver: string; driverOpts: string[]; env?: boolean; label: string[] }) => {
    if (f.driver !== 'file') throw new SkiffError('EUNSUPPORTED', `secret driver ${JSON.stringify(f.driver)} is not supported: only file`);
    if (f.driverOpts.length > 0) throw new SkiffError('EUNSUPPORTED', 'the file driver takes no --driver-opts here');
    let data: Buffer;
    if (f.env) {
      const v = process.env[file];
      if (v === undefined) throw new SkiffError('EINVALID', `cannot create store secret data: environment variable ${file} is not set`);
      data = Buffer.from(v);
    } else if (file === '-') data = await readCapped(process.stdin);
    else {
      const s = createReadStream(file);
      data = await readCapped(s).catch((e: NodeJS.ErrnoException) => {
        if (isSkiffError(e)) throw e;
        throw new SkiffError('ENOTFOUND', `open ${file}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`, { cause: e });
      });
    }
    const s = await createSecret(storeRootOf(create), name, data, { labels: keyValueFlags(f.label, 'label') });
    process.stdout.write(`${s.ID}\n`);
  });

  const ls = secret
    .command('ls')
    .alias('list')
    .description('list secrets')
    .option('-f, --filter <filter>', 'filter secret output (name=, id=)', collect, [])
    .option('--format <format>', "'json' or a Go template")
    .option('--noheading', 'do not print headers')
    .option('-q, --quiet', 'print secret IDs only');
  addRootOption(ls).action(async (f: { filter: string[]; format?: string; noheading?: boolean; quiet?: boolean }) => {
    const list = await listSecretsMatching(storeRootOf(ls), f.filter);
    const out = process.stdout;
    if (f.quiet) return void out.write(list.map((s) => `${s.ID}\n`).join(''));
    if (f.format === 'json') return void out.write(`${JSON.stringify(list, null, 4)}\n`);
    const view = list.map(rowOf);
    if (f.format !== undefined) {
      const headers = tableHeaders(rowOf({ ID: '', CreatedAt: '', UpdatedAt: '', Spec: { Name: '', Driver: { Name: 'file', Options: {} }, Labels: {} } }), { CreatedAt: 'CREATED', UpdatedAt: 'UPDATED' });
      out.write(formatReport(f.format, view.map((v) => goType(v, '*entities.SecretListReport')), { name: 'ls', headers, noHeading: f.noheading === true }));
      return;
    }
    const rows = view.map((v) => [String(v.ID), String(v.Name), String(v.Driver), String(v.CreatedAt), String(v.UpdatedAt)]);
    if (!f.noheading) rows.unshift(['ID', 'NAME', 'DRIVER', 'CREATED', 'UPDATED']);
    out.write(formatTable(rows));
  });

  const inspect = secret
    .command('inspect')
    .description('inspect a secret')
    .argument('<names...>')
    .option('-f, --format <format>', 'format inspect output using Go template')
    .option('--pretty', 'print inspect output in human-readable format');
  addRootOption(inspect).action(async (names: string[], f: { format?: string; pretty?: boolean }) => {
    const { found, error } = await inspectSecrets(storeRootOf(inspect), names);
    if (f.pretty) {
      process.stdout.write(found.map((s) => `ID:              ${s.ID}\nName:            ${s.Spec.Name}\nDriver:          ${s.Spec.Driver.Name}\nCreated at:      ${s.CreatedAt}\nUpdated at:      ${s.UpdatedAt}\n`).join('\n'));
    } else if (f.format !== undefined && f.format !== 'json') process.stdout.write(inspectFormat(f.format, found));
    else process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
    if (error) throw error;
  });

  const rm = secret
    .command('rm')
    .alias('remove')
    .description('remove one or more secrets')
    .argument('[names...]')
    .option('-a, --all', 'remove all secrets');
  addRootOption(rm).action(async (names: string[], f: { all?: boolean }) => {
    const root = storeRootOf(rm);
    if (f.all && names.length > 0) throw new SkiffError('EINVALID', '--all and secret names cannot be used together');
    if (!f.all && names.length === 0) throw new SkiffError('EINVALID', 'secret rm needs at least one secret name, or --all');
    const targets = f.all ? (await listSecretsMatching(root)).map((s) => s.ID) : names;
    let last: SkiffError | undefined;
    for (const n of targets) {
      try {
        process.stdout.write(`${(await removeSecret(root, n)).ID}\n`);
      } catch (e) {
        if (!isSkiffError(e)) throw e;
        if (last) process.stderr.write(`Error: ${last.message}\n`);
        last = e;
      }
    }
    if (last) throw last;
  });
}
