import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { containerExists, imageExists } from '../ops/exists.ts';
import { withStore } from './cli-util.ts';

/** The command group `name`, reusing one another module made. */
function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

/** Adds podman's `container exists NAME` and `image exists IMAGE`: exit 0 when it is there, 1 when not, nothing printed. */
export function addExistsCommands(program: Command): void {
  const c = group(program, 'container', 'manage containers').command('exists').description('check if a container exists in local storage').argument('<container>');
  addRootOption(c).action(async (name: string) => {
    await withStore(c, async (store) => {
      if (!(await containerExists(store, name))) process.exitCode = 1;
    });
  });
  const i = group(program, 'image', 'manage images').command('exists').description('check if an image exists in local storage').argument('<image>');
  addRootOption(i).action(async (name: string) => {
    await withStore(i, async (store) => {
      if (!(await imageExists(store, name))) process.exitCode = 1;
    });
  });
}
