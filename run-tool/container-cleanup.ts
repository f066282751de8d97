import type { Command } from 'commander';
import { addRootOption } from '../shared/cli/program.ts';
import { cleanupContainer } from './containers/lifecycle.ts';
import { checkId } from './containers/state.ts';
import { withStore } from './containers/cli-util.ts';

/** Adds the hidden `container-cleanup ID` conmon runs as its exit command: records the exit, unmounts, applies --rm and the restart policy. */
export function addContainerCleanupCommand(program: Command): void {
  const cmd = program.command('container-cleanup', { hidden: true }).argument('<id>');
  addRootOption(cmd).action(async (id: string) => {
    await withStore(cmd, (store) => cleanupContainer(store, checkId(id), { fromMonitor: true }));
  });
}
