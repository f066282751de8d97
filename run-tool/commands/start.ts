import type { Command } from 'commander';
import { startContainer, waitContainer } from '../ops/container-lifecycle.ts';
import { forEachContainer, withStore } from './cli-util.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { boolOption, collect } from '../../shared/cli/flags.ts';
import { SkiffError } from '../../shared/errors.ts';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../ops/attach-container.ts';

/**
 * Adds `start [-a [-i]] CONTAINER…` and `start --all [--filter K=V]…` (podman's): starts under the monitor and prints
 * each name as given (with --all, each ID of a container that was not running). `-a` (one container) streams this
 * run's output until it stops and exits with its code (start-attached.ts: the log is opened before the start, so a
 * --rm container's output is whole); `-a -i` attaches as `attach` does (attach-session.ts), passing this process's
 * stdin to a container created with -i; the detach keys leave it running (exit 0).
 */
export function addStartCommand(program: Command): void {
  const cmd = program.command('start').description('start one or more containers').argument('[containers...]')
    .option('-a, --attach', "attach the container's STDOUT and STDERR")
    .option('-i, --interactive', "attach the container's STDIN (with --attach)")
    .option('--detach-keys <keys>', 'select the key sequence for detaching a container', DEFAULT_DETACH_KEYS)
    .option('--all', 'start all containers regardless of their state or configuration')
    .option('-f, --filter <filter>', 'filter the containers --all starts (ps filters, restart-policy=…)', collect, [] as string[]);
  boolOption(cmd, '--sig-proxy', 'proxy received signals to the container with --attach (default true)');
  addRootOption(cmd).action(async (names: string[], f: { attach?: boolean; interactive?: boolean; detachKeys: string; sigProxy?: boolean; all?: boolean; filter: string[] }) => {
    const keys = parseDetachKeys(f.detachKeys);
    if (f.all && names.length > 0) throw new SkiffError('EINVALID', '--all and container names cannot be used together');
    if (!f.all && f.filter.length > 0) throw new SkiffError('EINVALID', '--filter needs --all');
    if (!f.all && names.length === 0) throw new SkiffError('EINVALID', 'start requires at least one argument');
    if (f.all && f.attach) throw new SkiffError('EINVALID', '--all and --attach cannot be used together');
    if (f.attach && names.length > 1) throw new SkiffError('EINVALID', 'you cannot start and attach multiple containers at once');
    await withStore(cmd, async (store) => {
      let targets = names;
      if (f.all) {
        const { listContainers } = await import('../ops/list-containers.ts');
        // a pod's infra container starts with the member that joins it
        targets = (await listContainers(store, { all: true, filters: f.filter })).filter((c) => c.state.status !== 'running' && !c.record.isInfra).map((c) => c.record.id);
      }
      if (f.attach && !f.interactive) {
        // output only: read through a log descriptor opened before the start, so a container that exits and is
        // removed at once (--rm) still has its whole output shown and its recorded exit code returned
        const { startAttached } = await import('../ops/start-attached.ts');
        const { exitCode } = await startAttached(store, targets[0]!, (es) => {
          for (const e of es) (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.text);
        });
        process.exitCode = exitCode;
        return;
      }
      if (f.attach) {
        // a terminal session with input; the log's entries from earlier runs are not this run's output
        const { readK8sLog } = await import('../ops/container-logs.ts');
        const { loadContainer } = await import('../containers/state.ts');
        const before = (await readK8sLog(store.paths.root, (await loadContainer(store.paths.root, targets[0]!)).record.id)).length;
        const { id } = await startContainer(store, targets[0]!);
        const { attachSession } = await import('./attach-session.ts');
        const { detached } = await attachSession(store, id, { keys, stdin: f.interactive === true, sigProxy: f.sigProxy !== false, justStarted: { skipEntries: before } });
        if (!detached) process.exitCode = await waitContainer(store, id).then((r) => r.exitCode, () => 0);
        return;
      }
      await forEachContainer(targets, async (n) => {
        await startContainer(store, n);
        process.stdout.write(`${n}\n`);
      });
    });
  });
}
