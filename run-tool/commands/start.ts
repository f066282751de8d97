import type { Command } from 'commander';
import { startContainer, waitContainer } from '../ops/container-lifecycle.ts';
import { forEachContainer, withStore } from './cli-util.ts';
import { addRootOption } from '../../shared/cli/program.ts';

/** Adds `start [-a] CONTAINER…` (podman's): starts under the monitor and prints each name as given; `-a` waits and prints the log. */
export function addStartCommand(program: Command): void {
  const cmd = program.command('start').description('start one or more containers').argument('<containers...>')
    .option('-a, --attach', 'attach to the container (best effort: prints its output once it exits)')
    .option('-i, --interactive', 'keep STDIN open (accepted)');
  addRootOption(cmd).action(async (names: string[], f: { attach?: boolean }) => {
    await withStore(cmd, async (store) => {
      await forEachContainer(names, async (n) => {
        const { id } = await startContainer(store, n);
        if (f.attach) {
          const code = await waitContainer(store, id).then((r) => r.exitCode, () => 0);
          const { readK8sLog } = await import('../ops/container-logs.ts');
          for (const e of await readK8sLog(store.paths.root, id)) (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.text);
          process.exitCode = code;
        } else process.stdout.write(`${n}\n`);
      });
    });
  });
}
