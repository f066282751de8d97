import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { topContainer } from '../ops/top-container.ts';
import { withStore } from './cli-util.ts';
import { tabwrite } from '../../shared/cli/go-template/tabwriter.ts';

/** Adds `top CONTAINER [descriptors]` (podman's default columns USER PID PPID %CPU ELAPSED TTY TIME COMMAND; topContainer). */
export function addTopCommand(program: Command): void {
  const cmd = program.command('top').description('display the running processes of a container').argument('<container>').argument('[descriptors...]');
  addRootOption(cmd).action(async (name: string, desc: string[]) => {
    await withStore(cmd, async (store) => {
      // podman's layout: tabwriter cells at least 12 wide, 2 blanks apart
      process.stdout.write(tabwrite(`${(await topContainer(store, name, desc)).map((r) => r.join('\t')).join('\n')}\n`));
    });
  });
}
