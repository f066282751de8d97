import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { restartContainer } from '../ops/container-lifecycle.ts';
import { forEachContainer, printWarning, withStore } from './cli-util.ts';
import { printWarningLine } from '../../shared/cli/warning-line.ts';

/** Adds `restart [-t N] CONTAINER…` (podman's): stop (if running; podman's warning when SIGKILL was needed) then start; prints each container as the user named it, as podman. */
export function addRestartCommand(program: Command): void {
  const cmd = program.command('restart').description('restart one or more containers').argument('<containers...>')
    .option('-t, --time <seconds>', 'seconds to wait for stop before killing the container');
  addRootOption(cmd).action(async (names: string[], f: { time?: string }) => {
    await withStore(cmd, async (store) => {
      await forEachContainer(names, async (n) => {
        await restartContainer(store, n, { timeout: f.time === undefined ? undefined : Number(f.time), onWarning: printWarning, onTimeout: printWarningLine });
        process.stdout.write(`${n}\n`);
      });
    });
  });
}
