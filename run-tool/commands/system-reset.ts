import type { Command } from 'commander';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { resetStore } from '../ops/system-reset.ts';
import { confirm, printWarning } from './cli-util.ts';

/** Adds `system reset [-f]` (podman's prompt and flags): removes everything in this store, and nothing outside it. */
export function addSystemResetCommand(program: Command): void {
  const system = program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('manage skiff');
  const cmd = system.command('reset').description('reset the store: remove all pods, containers, images, networks, volumes and caches').allowExcessArguments(true)
    .option('-f, --force', 'do not prompt for confirmation');
  addRootOption(cmd).action(async (f: { force?: boolean }, c: Command) => {
    if (c.args.length > 0) throw new SkiffError('EINVALID', '`run-tool system reset` takes no arguments');
    const root = storeRootOf(cmd);
    if (!f.force) {
      const what = ['all containers', 'all pods', 'all images', 'all networks', 'all build cache', 'all volumes', `the store directory: "${root}"`];
      if (!(await confirm(`WARNING! This will remove:\n${what.map((w) => `        - ${w}\n`).join('')}Are you sure you want to continue? [y/N] `))) return;
    }
    const r = await resetStore(root, { onWarning: printWarning });
    if (r.left.length > 0) process.stderr.write(`Warning: left in ${root}, not part of the store: ${r.left.join(', ')}\n`);
  });
}
