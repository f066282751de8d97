import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { collect } from '../../shared/cli/flags.ts';
import { execInContainer } from '../ops/exec-container.ts';
import { withStore } from './cli-util.ts';

/** Adds `exec [-i] [-t] [-d] [-e K=V] [-u USER] [-w DIR] CONTAINER CMD…` (podman's) through `runc exec`; exits with the command's code. */
export function addExecCommand(program: Command): void {
  const cmd = program.command('exec').description('run a process in a running container').argument('<container>').argument('<command...>')
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('-d, --detach', 'run the exec session in detached mode')
    .option('-e, --env <env>', 'set environment variables', collect, [])
    .option('-u, --user <user>', 'sets the username or UID used')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('--privileged', 'give the process extended privileges (accepted)')
    .passThroughOptions();
  addRootOption(cmd).action(async (name: string, args: string[], f: { interactive?: boolean; tty?: boolean; detach?: boolean; env: string[]; user?: string; workdir?: string }) => {
    await withStore(cmd, async (store) => {
      const r = await execInContainer(store, name, args, {
        tty: f.tty === true,
        interactive: f.interactive === true,
        detach: f.detach === true,
        env: f.env,
        callerEnv: process.env,
        user: f.user,
        workdir: f.workdir,
        onStderr: (b) => process.stderr.write(b),
      });
      if ('sessionId' in r) process.stdout.write(`${r.sessionId}\n`);
      else process.exitCode = r.exitCode;
    });
  });
}
