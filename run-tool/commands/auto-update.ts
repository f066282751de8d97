import type { Command } from 'commander';
import { formatReport } from '../../shared/cli/go-template.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { goBool } from '../../shared/cli/flags.ts';
import { SkiffError } from '../../shared/errors.ts';
import { autoUpdate } from '../ops/auto-update.ts';
import { withStore } from './cli-util.ts';
import { createRegistryOptions } from './create-flags.ts';

const HEADERS = { Unit: 'UNIT', Container: 'CONTAINER', Image: 'IMAGE', Policy: 'POLICY', Updated: 'UPDATED' };

/**
 * Adds `auto-update [--dry-run] [--format json|TEMPLATE] [--rollback=true|false] [--authfile]` (podman's):
 * prints `UNIT CONTAINER IMAGE POLICY UPDATED`; each container's error goes to stderr and sets exit 125.
 */
export function addAutoUpdateCommand(program: Command): void {
  const cmd = program.command('auto-update').description('auto update containers according to their auto-update policy')
    .option('--dry-run', 'check for pending updates')
    .option('--format <format>', 'change the output format to JSON or a Go template')
    .option('--rollback <bool>', 'rollback to previous image if update fails', 'true')
    .option('--authfile <path>', 'path to the authentication file')
    .option('--tls-verify <bool>', 'require HTTPS and verify certificates when contacting registries');
  addRootOption(cmd).action(async (f: { dryRun?: boolean; format?: string; rollback: string; authfile?: string; tlsVerify?: string }) => {
    const rollback = goBool(f.rollback);
    if (rollback === undefined) throw new SkiffError('EINVALID', `invalid --rollback ${JSON.stringify(f.rollback)}: want true or false`);
    await withStore(cmd, async (store) => {
      const r = await autoUpdate(store, { ...(f.dryRun && { dryRun: true }), rollback, registry: createRegistryOptions(f) });
      const rows = r.reports.map((x) => ({ Unit: x.unit, Container: x.container, Image: x.image, Policy: x.policy, Updated: x.updated }));
      if (f.format === 'json') process.stdout.write(`${JSON.stringify(rows, null, 4)}\n`);
      else process.stdout.write(formatReport(f.format ?? 'table {{.Unit}}\t{{.Container}}\t{{.Image}}\t{{.Policy}}\t{{.Updated}}', rows, { name: 'auto-update', headers: HEADERS }));
      for (const e of r.errors) process.stderr.write(`Error: ${e}\n`);
      if (r.errors.length > 0) process.exitCode = 125;
    });
  });
}
