import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { loadContainer } from '../containers/state.ts';
import { startDetached, stopContainer } from '../containers/lifecycle.ts';
import { forEachContainer, withStore } from '../containers/cli-util.ts';

/** Adds `restart [-t N] CONTAINER…` (podman's): stop (if running) then start; prints the full ID. */
export function addRestartCommand(program: Command): void {
  const cmd = program.command('restart').description('restart one or more containers').argument('<containers...>')
    .option('-t, --time <seconds>', 'seconds to wait for stop before killing the container');
  addRootOption(cmd).action(async (names: string[], f: { time?: string }) => {
    await withStore(cmd, async (store) => {
      await forEachContainer(names, async (n) => {
        const c = await loadContainer(store.paths.root, n);
        await stopContainer(store, c.record.id, f.time === undefined ? {} : { timeout: Number(f.time) });
        await startDetached(store, c.record.id);
        process.stdout.write(`${c.record.id}\n`);
      });
    });
  });
}
