import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError } from '../../shared/errors.ts';
import { startFailureCode } from '../../shared/runtime/runc.ts';
import { checkWorkdir } from '../../shared/runtime/spec.ts';
import type { RuntimeSpec } from '../../shared/runtime/types.ts';
import { resolveUser } from '../../shared/runtime/user.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import type { Store } from '../../shared/store/store.ts';
import { exitError } from '../containers/exit-status.ts';
import { getRunc } from '../containers/runc-handle.ts';
import { cleanRuncMessage } from '../containers/start-container.ts';
import { containerPaths, loadContainer } from '../containers/state.ts';

// The exec operation (podman's `exec`): one more process in a running container, through `runc exec`.

/** execInContainer's options (podman's `exec` flags). */
export interface ExecOptions {
  /** Allocate a terminal (the process inherits this one's stdio). */
  tty?: boolean;
  /** Keep stdin open (without `tty`). */
  interactive?: boolean;
  /** Start the process and return at once. */
  detach?: boolean;
  /** `KEY=VALUE` entries over the container's environment; a bare `KEY` takes its value in `callerEnv` (skipped when unset there). */
  env?: readonly string[];
  callerEnv?: Readonly<Record<string, string | undefined>>;
  /** `USER[:GROUP]` as the container's /etc/passwd and /etc/group resolve it. */
  user?: string;
  /** Absolute working directory inside the container. */
  workdir?: string;
  /** The process's own stderr (runc's error messages are not passed here; they become the error). */
  onStderr?: (chunk: Buffer) => void;
  /** The process's stdout (without `tty`); unset, it goes to this process's stdout. */
  onStdout?: (chunk: Buffer) => void;
}

/**
 * Runs `args` in running container `nameOrId` with the container's process settings and `o`'s on top. Without
 * `detach` waits for it and returns its exit code; with `detach` returns a new exec session ID. Exit status 125
 * when the container is not running, 126/127 when the command cannot be run (startFailureCode).
 */
export async function execInContainer(store: Store, nameOrId: string, args: readonly string[], o: ExecOptions = {}): Promise<{ exitCode: number } | { sessionId: string }> {
  const c = await loadContainer(store.paths.root, nameOrId);
  if (c.state.status !== 'running') throw exitError(125, `can only create exec sessions on running containers: container state improper`);
  const p = containerPaths(store.paths.root, c.record.id);
  const spec = JSON.parse(await readFile(join(p.bundle, 'config.json'), 'utf8')) as RuntimeSpec;
  const proc = { ...spec.process, args: [...args], terminal: o.tty === true };
  if (o.user !== undefined) {
    const u = await resolveUser(p.rootfs, o.user);
    proc.user = { uid: u.uid, gid: u.gid, ...(u.additionalGids.length && { additionalGids: u.additionalGids }) };
  }
  if (o.workdir !== undefined) proc.cwd = checkWorkdir(o.workdir);
  const env = new Map(proc.env.map((e) => [e.slice(0, e.indexOf('=')), e]));
  for (const e of o.env ?? []) {
    const i = e.indexOf('=');
    if (i < 0) {
      const v = o.callerEnv?.[e];
      if (v !== undefined) env.set(e, `${e}=${v}`);
    } else if (i === 0) throw new SkiffError('EINVALID', `invalid environment variable ${JSON.stringify(e)}`);
    else env.set(e.slice(0, i), e);
  }
  proc.env = [...env.values()];
  const file = join(p.dir, `exec-${randomBytes(6).toString('hex')}.json`);
  await writeFileAtomic(file, JSON.stringify(proc), 0o600);
  const runc = await getRunc();
  try {
    if (o.detach) {
      const r = await runc.execDetached(c.record.id, file);
      if (r.code !== 0) throw exitError(startFailureCode(r.stderr) ?? 125, cleanRuncMessage(r.stderr));
      return { sessionId: randomBytes(32).toString('hex') };
    }
    let errText = '';
    const code = await runc.exec(c.record.id, file, {
      stdio: o.tty ? 'inherit' : [o.interactive ? 'inherit' : 'ignore', o.onStdout ? 'pipe' : 'inherit', 'pipe'],
      onSpawn: (ch) => {
        if (o.onStdout) ch.stdout?.on('data', o.onStdout);
        ch.stderr?.on('data', (b: Buffer) => {
          const s = b.toString();
          if (/level=error msg=/.test(s)) errText += s;
          else o.onStderr?.(b);
        });
      },
    });
    if (errText) throw exitError(startFailureCode(errText) ?? 125, cleanRuncMessage(errText));
    return { exitCode: code };
  } finally {
    await rm(file, { force: true });
  }
}
