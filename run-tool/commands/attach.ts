import type { Command } from 'commander';
import { boolOption } from '../../shared/cli/flags.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../ops/attach-container.ts';
import { attachSession } from './attach-session.ts';
import { withStore } from './cli-util.ts';

/**
 * Adds `attach [--detach-keys K] [--no-stdin] [--sig-proxy=BOOL] CONTAINER` (podman 4.3's): the running
 * container's output until it stops (exit 0, then an empty line, as podman) or the detach keys are typed on a
 * terminal (default ctrl-p,ctrl-q; the container keeps running); this process's stdin goes to a container created
 * with -i (attach-session.ts); signals this process gets go to the container unless `--sig-proxy=false` (then they
 * end the attach: SIGTERM exit 0, SIGINT 1, as podman).
 */
export function addAttachCommand(program: Command): void {
  const cmd = program.command('attach').description('attach to a running container').argument('[container]')
    .option('--detach-keys <keys>', 'select the key sequence for detaching a container', DEFAULT_DETACH_KEYS)
    .option('--no-stdin', 'do not attach STDIN')
    .option('-l, --latest', 'act on the latest container run-tool is aware of');
  boolOption(cmd, '--sig-proxy', 'proxy received signals to the container (default true)');
  addRootOption(cmd).action(async (name: string | undefined, f: { detachKeys: string; stdin: boolean; latest?: boolean; sigProxy?: boolean }) => {
    const keys = parseDetachKeys(f.detachKeys);
    if (name === undefined && !f.latest) throw new SkiffError('EINVALID', 'you must provide one container name or ID', { hint: 'run-tool attach NAME, or --latest' });
    await withStore(cmd, async (store) => {
      let target = name;
      if (f.latest) {
        const { listContainers } = await import('../ops/list-containers.ts');
        target = (await listContainers(store, { latest: true }))[0]?.record.id;
        if (!target) throw new SkiffError('ENOTFOUND', 'no containers to attach to');
      }
      const r = await attachSession(store, target!, { keys, stdin: f.stdin !== false, sigProxy: f.sigProxy !== false });
      // podman 4.3 ends an attach (a detach too) with a newline of its own, but not one a signal ended
      if (!r.endedBy) process.stdout.write('\n');
    });
  });
}
