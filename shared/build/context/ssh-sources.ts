/**
 * `--ssh ID=PATH[,PATH…]` sources as BuildKit and buildah take them: a path that is a socket is an ssh agent to
 * forward; otherwise the paths are private key files, loaded into an agent started for this build (Debian's
 * `ssh-agent -D`, on a socket in a private 0700 temp dir, the keys added with `ssh-add`, never prompting) — BuildKit
 * and buildah serve such keys from an in-process agent; the container sees the same agent protocol either way.
 * `dispose()` stops each started agent by its PID and removes its dir; the key bytes never leave the agent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkiffError, throwIfAborted } from '../../errors.ts';
import { requireProgram } from '../../process/system-programs.ts';
import { runProgram } from '../../process/run.ts';
import { noteHelper, ownedTempDir } from './owned-temp.ts';

/** Agent sockets by ssh id, and how to stop the agents started for key files. */
export interface SshSources {
  sockets: Map<string, string>;
  dispose(): Promise<void>;
}

/** Splits `--ssh` values: `default` (from $SSH_AUTH_SOCK), `ID`, `ID=PATH[,PATH…]`. Pure but for `env`. */
export function parseSshFlag(s: string, env: NodeJS.ProcessEnv = process.env): [string, string[]] {
  const eq = s.indexOf('=');
  const id = eq < 0 ? s : s.slice(0, eq);
  if (id === '') throw new SkiffError('EINVALID', `invalid --ssh ${JSON.stringify(s)}: the id is empty`, { hint: 'write --ssh default, --ssh ID=SOCKET or --ssh ID=KEYFILE' });
  const paths = eq < 0 ? (env.SSH_AUTH_SOCK ? [env.SSH_AUTH_SOCK] : []) : s.slice(eq + 1).split(',').filter((p) => p !== '');
  if (paths.length === 0) {
    throw new SkiffError('EINVALID', eq < 0 ? `--ssh ${s}: no socket (SSH_AUTH_SOCK is not set)` : `invalid --ssh ${JSON.stringify(s)}: no path after ${id}=`, { hint: 'start an ssh agent (eval $(ssh-agent); ssh-add) or pass --ssh ID=KEYFILE' });
  }
  return [id, paths];
}

/** Resolves every id's paths to an agent socket (see the module comment); on failure nothing started is left. */
export async function openSshSources(specs: ReadonlyMap<string, readonly string[]>, o: { signal?: AbortSignal } = {}): Promise<SshSources> {
  const sockets = new Map<string, string>();
  const stops: (() => Promise<void>)[] = [];
  const dispose = async (): Promise<void> => {
    for (const s of stops.splice(0)) await s().catch(() => {});
  };
  try {
    for (const [id, paths] of specs) {
      const kinds = await Promise.all(paths.map(async (p) => (await lstat(p).catch(() => undefined))?.isSocket()));
      if (paths.length === 1 && kinds[0] === true) {
        sockets.set(id, paths[0]!);
        continue;
      }
      for (const [i, p] of paths.entries()) {
        if (kinds[i] === undefined && (await lstat(p).catch(() => undefined)) === undefined) throw new SkiffError('ENOTFOUND', `--ssh ${id}: ${p} does not exist`, { hint: 'give an ssh agent socket or a private key file' });
        if (kinds[i] === true) throw new SkiffError('EINVALID', `--ssh ${id}: ${p} is a socket; a socket cannot be combined with key files`);
      }
      const agent = await startAgent(o.signal);
      stops.push(agent.stop);
      for (const p of paths) await addKey(agent.socket, id, p, o.signal);
      sockets.set(id, agent.socket);
    }
    return { sockets, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

async function startAgent(signal?: AbortSignal): Promise<{ socket: string; stop(): Promise<void> }> {
  // an agent a killed build left running is stopped (by its recorded PID) and its dir removed here
  const dir = await ownedTempDir('skiff-ssh-');
  const socket = join(dir, 'agent.sock');
  let child: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child!.once('exit', () => r()));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(2000)]);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    child = spawn(requireProgram('ssh-agent'), ['-D', '-a', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    const spawned = new Promise<void>((res, rej) => {
      child!.once('error', rej);
      child!.once('spawn', () => res());
    });
    await spawned;
    await noteHelper(dir, child.pid!);
    for (let i = 0; i < 200; i++) {
      throwIfAborted(signal);
      if ((await lstat(socket).catch(() => undefined))?.isSocket()) return { socket, stop };
      if (child.exitCode !== null) break;
      await sleep(10);
    }
    throw new SkiffError('EIO', `ssh-agent did not start: ${err.trim() || 'no socket after 2 s'}`);
  } catch (e) {
    await stop();
    throw e;
  }
}

async function addKey(socket: string, id: string, key: string, signal?: AbortSignal): Promise<void> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', SSH_AUTH_SOCK: socket, SSH_ASKPASS_REQUIRE: 'never' };
  const r = await runProgram(requireProgram('ssh-add'), ['-q', key], { env, ...(signal && { signal }) });
  if (r.code !== 0) {
    const why = r.stderr.trim().split('\n').at(-1) ?? `exit status ${r.code}`;
    throw new SkiffError('EINVALID', `--ssh ${id}: cannot load key ${key}: ${why}`, { hint: 'give an unencrypted private key file, or an agent socket holding the key (ssh-add it first)' });
  }
}
