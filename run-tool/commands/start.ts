import type { Command } from 'commander';
import { startContainer, waitContainer } from '../ops/container-lifecycle.ts';
import { forEachContainer, withStore } from './cli-util.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { collect } from '../../shared/cli/flags.ts';
import { SkiffError } from '../../shared/errors.ts';

/**
 * Adds `start [-a] CONTAINER…` and `start --all [--filter K=V]…` (podman's): starts under the monitor and prints
 * each name as given (with --all, each ID of a container that was not running); `-a` waits and prints the log.
 */
export function addStartCommand(program: Command): void {
  const cmd = program.command('start').description('start one or more containers').argument('[containers...]')
    .option('-a, --attach', 'attach to the container (best effort: prints its output once it exits)')
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
        const { id } = await startContainer(store, n);
        if (f.attach) {
          const code = await waitContainer(store, id).then((r) => r.exitCode, () => 0);
          const { readK8sLog } = await import('../ops/container-logs.ts');
          for (const e of await readK8sLog(store.paths.root, id)) (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.text);
          process.exitCode = code;
        } else process.stdout.write(`${n}\n`);
      });
    });
  });
}
