import type { Command } from 'commander';
import { goType, parseGoTemplate } from '../../shared/cli/go-template.ts';
import { addRootOption, VERSION } from '../../shared/cli/program.ts';
import { SkiffError, isSkiffError } from '../../shared/errors.ts';
import { versionFacts } from '../ops/version.ts';

/**
 * Adds `version [--format F]` (podman 4.3 without a service: a Client section only). A template is run against
 * `{Client, Server}`; one that fails there (`{{.Server.Version}}`, the old `{{.Version}}`) is run against the
 * client with `.Client.`/`.Server.` dropped, as podman does, so both spellings print the version.
 */
export function addVersionCommand(program: Command): void {
  const cmd = program.command('version').description('display the run-tool version information').allowExcessArguments(true)
    .option('-f, --format <format>', 'change the output format to JSON or a Go template');
  addRootOption(cmd).action(async (f: { format?: string }, c: Command) => {
    if (c.args.length > 0) throw new SkiffError('EINVALID', '`run-tool version` takes no arguments', { hint: 'run `run-tool version` or `run-tool version --format json`' });
    const client = versionFacts(VERSION);
    if (f.format === 'json' || f.format === '{{json .}}') {
      process.stdout.write(`${JSON.stringify({ Client: client })}\n`);
      return;
    }
    if (f.format !== undefined) {
      const report = goType({ Client: goType({ ...client }, 'define.Version'), Server: null }, 'entities.SystemVersionReport');
      let text: string;
      try {
        text = parseGoTemplate(f.format, { name: 'version' }).render(report);
      } catch (e) {
        if (!isSkiffError(e)) throw e;
        const row = f.format.replaceAll('.Server.', '.').replaceAll('.Client.', '.');
        text = parseGoTemplate(row, { name: 'version' }).render(goType({ ...client }, 'define.Version'));
      }
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      return;
    }
    const rows: [string, string][] = [['Client:', 'skiff run-tool'], ['Version:', client.Version], ['API Version:', client.APIVersion], ['Go Version:', client.GoVersion], ['Built:', client.BuiltTime], ['OS/Arch:', client.OsArch]];
    process.stdout.write(rows.map(([k, v]) => `${k.padEnd(14)}${v}`).join('\n') + '\n');
  });
}
