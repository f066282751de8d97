import type { Command } from 'commander';
import { addCreateFlags, createRegistryOptions, parseCreateFlags, podRefOf, systemdCreateOptions, type CreateFlags } from './create-flags.ts';
import { withStore } from './cli-util.ts';
import type { PullPolicy } from '../containers/pull-policy.ts';
import { runContainer } from '../ops/create-container.ts';
import { socketActivationOf } from '../systemd/socket-activation.ts';

/**
 * Adds `run [flags] IMAGE [COMMAND [ARG…]]` (podman's): `-d` starts the container under its monitor (conmon)
 * and prints the full ID; otherwise it runs in the foreground through `runc run` and exits with the
 * container's code (125 skiff errors, 126 cannot invoke, 127 not found).
 */
export function addRunCommand(program: Command): void {
  const cmd = program
    .command('run')
    .description('run a command in a new container')
    .argument('<image>')
    .argument('[command...]')
    .option('-d, --detach', 'run container in background and print container ID')
    .passThroughOptions();
  addCreateFlags(cmd).action(async (image: string, args: string[], f: CreateFlags & { detach?: boolean }) => {
    const parsed = parseCreateFlags(image, args, f);
    // started by a socket unit: its listening fds go on to the container (podman does the same)
    const sa = socketActivationOf(process.env, process.pid);
    const o = sa ? { ...parsed, env: [...(parsed.env ?? []), ...sa.env], preserveFds: Math.max(parsed.preserveFds ?? 0, sa.fds) } : parsed;
    const podRef = podRefOf(f);
    await withStore(cmd, async (store) => {
      const warn = (m: string) => void process.stderr.write(`${m}\n`);
      const onCleanupWarning = (m: string) => void process.stderr.write(`Error: ${m}\n`);
      const r = await runContainer(store, { ...o, pull: f.pull as PullPolicy, registry: createRegistryOptions(f), ...(podRef !== undefined && { podRef }), ...systemdCreateOptions(f), log: warn, onWarning: warn, onCleanupWarning, detach: f.detach === true, ...(sa && f.detach && { listenFds: sa.fds }) });
      if (r.error !== undefined) process.stderr.write(`Error: ${r.error}\n`);
      if (r.exitCode === undefined) process.stdout.write(`${r.id}\n`);
      else process.exitCode = r.exitCode;
    });
  });
}

