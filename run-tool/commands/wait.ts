import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { waitContainer } from '../ops/container-lifecycle.ts';
import { forEachContainer, withStore } from './cli-util.ts';

/** Adds `wait CONTAINER…` (podman's): blocks until each container stops and prints its exit code. */
export function addWaitCommand(program: Command): void {
  const cmd = program.command('wait').description('block on one or more containers').argument('<containers...>')
    .option('-i, --interval <duration>', 'time interval to wait before polling for completion', '250ms');
  addRootOption(cmd).action(async (names: string[]) => {
    await withStore(cmd, async (store) => {
      await forEachContainer(names, async (n) => {
        process.stdout.write(`${(await waitContainer(store, n)).exitCode}\n`);
      });
    });
  });
}
