import type { Command } from 'commander';
import { addCreateFlags, createRegistryOptions, parseCreateFlags, podRefOf, type CreateFlags } from './create-flags.ts';
import { withStore } from './cli-util.ts';
import type { PullPolicy } from '../containers/pull-policy.ts';
import { runContainer } from '../ops/create-container.ts';

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
    const o = parseCreateFlags(image, args, f);
    const podRef = podRefOf(f);
    await withStore(cmd, async (store) => {
      const warn = (m: string) => void process.stderr.write(`${m}\n`);
      const onCleanupWarning = (m: string) => void process.stderr.write(`Error: ${m}\n`);
      const r = await runContainer(store, { ...o, pull: f.pull as PullPolicy, registry: createRegistryOptions(f), ...(podRef !== undefined && { podRef }), log: warn, onWarning: warn, onCleanupWarning, detach: f.detach === true });
      if (r.error !== undefined) process.stderr.write(`Error: ${r.error}\n`);
      if (r.exitCode === undefined) process.stdout.write(`${r.id}\n`);
      else process.exitCode = r.exitCode;
    });
  });
}

