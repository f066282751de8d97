import type { Command } from 'commander';
import { loadContainer } from '../containers/state.ts';
import { ExitCodeError, startDetached, waitContainer } from '../containers/lifecycle.ts';
import { forEachContainer, withStore } from '../containers/cli-util.ts';
import { addRootOption } from '../../shared/cli/program.ts';

/** Adds `start [-a] CONTAINER…` (podman's): starts under the monitor and prints each name as given; `-a` waits and prints the log. */
export function addStartCommand(program: Command): void {
  const cmd = program.command('start').description('start one or more containers').argument('<containers...>')
    .option('-a, --attach', 'attach to the container (best effort: prints its output once it exits)')
    .option('-i, --interactive', 'keep STDIN open (accepted)');
  addRootOption(cmd).action(async (names: string[], f: { attach?: boolean }) => {
    await withStore(cmd, async (store) => {
      await forEachContainer(names, async (n) => {
        const c = await loadContainer(store.paths.root, n);
        try {
          await startDetached(store, c.record.id);
        } catch (e) {
          // podman names the container in every start failure
          if (e instanceof ExitCodeError) throw new ExitCodeError(e.exitCode, `unable to start container "${c.record.id}": ${e.message}`);
          throw e;
        }
        if (f.attach) {
          const code = await waitContainer(store, c.record.id).catch(() => 0);
          const { readK8sLog } = await import('./logs.ts');
          for (const e of await readK8sLog(store.paths.root, c.record.id)) (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.text);
          process.exitCode = code;
        } else process.stdout.write(`${n}\n`);
      });
    });
  });
}
