import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { resolveUser } from '../../shared/runtime/user.ts';
import { checkWorkdir } from '../../shared/runtime/spec.ts';
import type { RuntimeSpec } from '../../shared/runtime/types.ts';
import { containerPaths, loadContainer } from '../containers/state.ts';
import { cleanRuncMessage } from '../containers/start-container.ts';
import { getRunc } from '../containers/runc-handle.ts';
import { startFailureCode } from '../../shared/runtime/runc.ts';
import { collect } from '../../shared/cli/flags.ts';
import { withStore } from './cli-util.ts';
import { randomBytes } from 'node:crypto';
import { exitError } from '../containers/exit-status.ts';

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
      const c = await loadContainer(store.paths.root, name);
      if (c.state.status !== 'running') throw exitError(125, `can only create exec sessions on running containers: container state improper`);
      const p = containerPaths(store.paths.root, c.record.id);
      const spec = JSON.parse(await readFile(join(p.bundle, 'config.json'), 'utf8')) as RuntimeSpec;
      const proc = { ...spec.process, args, terminal: f.tty === true };
      if (f.user !== undefined) {
        const u = await resolveUser(p.rootfs, f.user);
        proc.user = { uid: u.uid, gid: u.gid, ...(u.additionalGids.length && { additionalGids: u.additionalGids }) };
      }
      if (f.workdir !== undefined) proc.cwd = checkWorkdir(f.workdir);
      const env = new Map(proc.env.map((e) => [e.slice(0, e.indexOf('=')), e]));
      for (const e of f.env) {
        const i = e.indexOf('=');
        if (i < 0) {
          if (process.env[e] !== undefined) env.set(e, `${e}=${process.env[e]}`);
        } else if (i === 0) throw new SkiffError('EINVALID', `invalid environment variable ${JSON.stringify(e)}`);
        else env.set(e.slice(0, i), e);
      }
      proc.env = [...env.values()];
      const file = join(p.dir, `exec-${randomBytes(6).toString('hex')}.json`);
      await writeFileAtomic(file, JSON.stringify(proc), 0o600);
      const runc = await getRunc();
      try {
        if (f.detach) {
          const r = await runc.execDetached(c.record.id, file);
          if (r.code !== 0) throw exitError(startFailureCode(r.stderr) ?? 125, cleanRuncMessage(r.stderr));
          process.stdout.write(`${randomBytes(32).toString('hex')}\n`);
          return;
        }
        let errText = '';
        const code = await runc.exec(c.record.id, file, {
          stdio: f.tty ? 'inherit' : [f.interactive ? 'inherit' : 'ignore', 'inherit', 'pipe'],
          onSpawn: (ch) => ch.stderr?.on('data', (b: Buffer) => {
            const s = b.toString();
            if (/level=error msg=/.test(s)) errText += s;
            else process.stderr.write(b);
          }),
        });
        if (errText) throw exitError(startFailureCode(errText) ?? 125, cleanRuncMessage(errText));
        process.exitCode = code;
      } finally {
        await rm(file, { force: true });
      }
    });
  });
}
