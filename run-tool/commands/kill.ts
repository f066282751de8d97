import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { killContainer } from '../ops/container-lifecycle.ts';
import { parseSignal } from '../containers/signals.ts';
import { forEachContainer, withStore } from './cli-util.ts';

/** Adds `kill [-s SIGNAL] CONTAINER…` (podman's; default SIGKILL). */
export function addKillCommand(program: Command): void {
  const cmd = program.command('kill').description('kill one or more running containers with a specific signal').argument('<containers...>')
    .option('-s, --signal <signal>', 'signal to send to the container', 'KILL');
  addRootOption(cmd).action(async (names: string[], f: { signal: string }) => {
    const sig = parseSignal(f.signal);
    await withStore(cmd, async (store) => {
      await forEachContainer(names, async (n) => {
        await killContainer(store, n, { signal: sig });
        process.stdout.write(`${n}\n`);
      });
    });
  });
}
