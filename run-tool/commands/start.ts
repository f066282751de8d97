import type { Command } from 'commander';
import { startContainer } from '../ops/container-lifecycle.ts';
import { forEachContainer, withStore } from './cli-util.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { boolOption, collect } from '../../shared/cli/flags.ts';
import { isSkiffError, SkiffError } from '../../shared/errors.ts';
import { exitError } from '../containers/exit-status.ts';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../ops/attach-container.ts';

/**
 * Adds `start [-a [-i]] CONTAINER…` and `start --all [--filter K=V]…` (podman's): starts under the monitor and prints
 * each name as given (with --all, each ID of a container that was not running). `-a` (one container) streams this
 * run's output until it stops and exits with its code, through the attach session of `attach` (attach-session.ts,
 * start-attached.ts: the log is opened before the start, so a --rm container's output is whole; signals go to the
 * container unless --sig-proxy=false); `-a -i` also passes this process's stdin to a container created with -i; the
 * detach keys leave it running (exit 0).
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
      if (f.attach) {
        // the log is opened before the start, so a --rm container's output is whole and its exit code recorded
        const { attachSession } = await import('./attach-session.ts');
        const r = await attachSession(store, targets[0]!, { keys, stdin: f.interactive === true, sigProxy: f.sigProxy !== false, start: true }).catch((e: unknown) => Promise.reject(startFailure(e, true)));
        if (!r.detached) process.exitCode = r.exitCode ?? 0;
        return;
      }
      await forEachContainer(targets, async (n) => {
        await startContainer(store, n).catch((e: unknown) => Promise.reject(startFailure(e, false)));
        process.stdout.write(`${n}\n`);
      });
    });
  });
}

/**
 * podman 4.3's `start` of a container whose command cannot be found or run: the start failed (125; `run` keeps
 * 127/126), and `start -a` names the container unquoted. Other errors are returned as they are.
 */
function startFailure(e: unknown, attach: boolean): unknown {
  if (!isSkiffError(e) || (e.exitStatus !== 126 && e.exitStatus !== 127)) return e;
  return exitError(125, attach ? e.message.replace(/^unable to start container "([0-9a-f]{64})"/, 'unable to start container $1') : e.message);
}
