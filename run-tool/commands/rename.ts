import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { renameContainer } from '../ops/rename-container.ts';
import { withStore } from './cli-util.ts';

/** Adds `rename CONTAINER NAME` (podman's: silent on success). */
export function addRenameCommand(program: Command): void {
  const cmd = program.command('rename').description('rename an existing container').argument('<container>').argument('<name>');
  addRootOption(cmd).action(async (container: string, name: string) => {
    await withStore(cmd, (store) => renameContainer(store, container, name));
  });
}
