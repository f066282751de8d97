import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { pauseContainer, pausableContainers } from '../ops/container-lifecycle.ts';
import { forEachContainer, withStore } from './cli-util.ts';

/** Adds `pause` and `unpause` (podman's: `[-a] CONTAINER…`, the cgroup freezer); each prints what it acted on. */
export function addPauseCommands(program: Command): void {
  for (const paused of [true, false]) {
    const verb = paused ? 'pause' : 'unpause';
    const cmd = program.command(verb).description(paused ? 'pause all the processes in one or more containers' : 'unpause the processes in one or more containers')
      .argument('[containers...]')
      .option('-a, --all', `${verb} all ${paused ? 'running' : 'paused'} containers`);
    addRootOption(cmd).action(async (names: string[], f: { all?: boolean }) => {
      if (!f.all && names.length === 0) throw new SkiffError('EINVALID', 'you must provide at least one name or id', { hint: `run-tool ${verb} NAME, or --all` });
      if (f.all && names.length > 0) throw new SkiffError('EINVALID', '--all and containers cannot be used together');
      await withStore(cmd, async (store) => {
        const targets = f.all ? await pausableContainers(store, paused) : names;
        await forEachContainer(targets, async (n) => {
          await pauseContainer(store, n, paused);
          process.stdout.write(`${n}\n`);
        });
      });
    });
  }
}
