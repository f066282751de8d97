import type { Command } from 'commander';
import { startContainer } from '../ops/container-lifecycle.ts';
import { forEachContainer, withStore } from './cli-util.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { collect } from '../../shared/cli/flags.ts';
import { SkiffError } from '../../shared/errors.ts';

/**
 * Adds `start [-a] CONTAINER…` and `start --all [--filter K=V]…` (podman's): starts under the monitor and prints
 * each name as given (with --all, each ID of a container that was not running); `-a` streams the container's output
 * until it exits and exits with its code.
 */
export function addStartCommand(program: Command): void {
  const cmd = program.command('start').description('start one or more containers').argument('[containers...]')
    .option('-a, --attach', 'attach to the container: its output until it exits')
    .option('-i, --interactive', 'keep STDIN open (accepted)')
    .option('--all', 'start all containers regardless of their state or configuration')
    .option('-f, --filter <filter>', 'filter the containers --all starts (ps filters, restart-policy=…)', collect, [] as string[]);
  addRootOption(cmd).action(async (names: string[], f: { attach?: boolean; all?: boolean; filter: string[] }) => {
    if (f.all && names.length > 0) throw new SkiffError('EINVALID', '--all and container names cannot be used together');
    if (!f.all && f.filter.length > 0) throw new SkiffError('EINVALID', '--filter needs --all');
    if (!f.all && names.length === 0) throw new SkiffError('EINVALID', 'start requires at least one argument');
    if (f.all && f.attach) throw new SkiffError('EINVALID', '--all and --attach cannot be used together');
    await withStore(cmd, async (store) => {
      let targets = names;
      if (f.all) {
        const { listContainers } = await import('../ops/list-containers.ts');
        // a pod's infra container starts with the member that joins it
        targets = (await listContainers(store, { all: true, filters: f.filter })).filter((c) => c.state.status !== 'running' && !c.record.isInfra).map((c) => c.record.id);
      }
      await forEachContainer(targets, async (n) => {
        if (f.attach) {
          // the output streams as the container writes it (read through a log descriptor opened before the start)
          const { startAttached } = await import('../ops/start-attached.ts');
          const { exitCode } = await startAttached(store, n, (es) => {
            for (const e of es) (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.text);
          });
          process.exitCode = exitCode;
        } else {
          await startContainer(store, n);
          process.stdout.write(`${n}\n`);
        }
      });
    });
  });
}
