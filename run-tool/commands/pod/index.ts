import type { Command } from 'commander';
import { addPodCreateCommand } from './create.ts';
import { addPodLifecycleCommands } from './lifecycle.ts';
import { addPodPsCommand } from './list.ts';
import { addPodProcessCommands } from './processes.ts';

/** Adds `pod` and its subcommands (podman 4.3's): create, ps/ls, inspect, start, stop, restart, kill, rm, exists, prune, top, stats, logs. */
export function addPodCommands(program: Command): void {
  const pod = program.command('pod').description('manage pods');
  addPodCreateCommand(pod, ['run-tool', ...process.argv.slice(2)]);
  addPodPsCommand(pod);
  addPodLifecycleCommands(pod);
  addPodProcessCommands(pod);
}
