import type { SkiffError } from '../../shared/errors.ts';
import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { getRunc } from '../containers/runc-handle.ts';
import { loadContainer } from '../containers/state.ts';
import { withStore } from './cli-util.ts';
import { exitError } from '../containers/exit-status.ts';

/** Adds `top CONTAINER [ps options]` (podman's default columns USER PID PPID %CPU ELAPSED TTY TIME COMMAND) via `runc ps`. */
export function addTopCommand(program: Command): void {
  const cmd = program.command('top').description('display the running processes of a container').argument('<container>').argument('[descriptors...]');
  addRootOption(cmd).action(async (name: string, desc: string[]) => {
    await withStore(cmd, async (store) => {
      const c = await loadContainer(store.paths.root, name);
      if (c.state.status !== 'running') throw exitError(125, `top can only be used on running containers: container state improper`);
      const runc = await getRunc();
      const fmt = desc.length ? desc.join(',') : 'user,pid,ppid,pcpu,etime,tty,time,args';
      const out = await runc.ps(c.record.id, fmt).catch((e: SkiffError) => {
        throw exitError(125, String(e.details?.stderr ?? '').trim() || e.message);
      });
      const lines = out.split('\n');
      if (!desc.length && lines[0]) lines[0] = lines[0].replace('%CPU', '%CPU').replace(/COMMAND\s*$/, 'COMMAND').replace('ELAPSED', 'ELAPSED');
      process.stdout.write(lines.join('\n'));
    });
  });
}
