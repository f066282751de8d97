import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { initContainer, initableContainers } from '../ops/container-lifecycle.ts';
import { forEachContainer, withStore } from './cli-util.ts';

/** Adds `init [-a] CONTAINER…` (podman's): prepares containers to run without starting their process; prints each. */
export function addInitCommand(program: Command): void {
  const cmd = program.command('init').description('initialize one or more containers').argument('[containers...]')
    .option('-a, --all', 'initialize all containers that are not running');
  addRootOption(cmd).action(async (names: string[], f: { all?: boolean }) => {
    if (!f.all && names.length === 0) throw new SkiffError('EINVALID', 'you must provide at least one name or id', { hint: 'run-tool init NAME, or --all' });
    if (f.all && names.length > 0) throw new SkiffError('EINVALID', '--all and containers cannot be used together');
    await withStore(cmd, async (store) => {
      const targets = f.all ? await initableContainers(store) : names;
      await forEachContainer(targets, async (n) => {
        await initContainer(store, n);
        process.stdout.write(`${n}\n`);
      });
    });
  });
}
