import type { Command } from 'commander';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { collect } from '../../shared/cli/flags.ts';
import { networkExists } from '../ops/exists.ts';
import { parsePruneFilters, pruneNetworks } from '../ops/prune.ts';
import { confirm } from './cli-util.ts';

/**
 * Adds podman's `network exists NAME` (exit 0 or 1, nothing printed) and `network prune [-f] [--filter label=…]`
 * (removes the networks no container uses, printing each name) to the `network` group.
 */
export function addNetworkPruneCommands(program: Command): void {
  const net = program.commands.find((c) => c.name() === 'network') ?? program.command('network').description('manage networks');

  const exists = net.command('exists').description('network exists').argument('<network>');
  addRootOption(exists).action(async (name: string) => {
    if (!(await networkExists(storeRootOf(exists), name))) process.exitCode = 1;
  });

  const prune = net
    .command('prune')
    .description('prune unused networks')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', "provide filter values (label=<key>[=<value>], label!=…, until=<time>)", collect, []);
  addRootOption(prune).action(async (f: { force?: boolean; filter: string[] }) => {
    const filters = parsePruneFilters(f.filter); // a bad filter fails before the prompt
    if (!f.force && !(await confirm('WARNING! This will remove all networks not used by at least one container.\nAre you sure you want to continue? [y/N] '))) return;
    for (const n of await pruneNetworks(storeRootOf(prune), filters)) process.stdout.write(`${n}\n`);
  });
}
