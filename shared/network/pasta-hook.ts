import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';

/** Files of the pasta createRuntime hook handshake, inside the caller's private state dir `dir`. */
export function pastaHookFiles(dir: string): { state: string; go: string } {
  return { state: join(dir, 'net-hook.state'), go: join(dir, 'net-hook.go') };
}

/**
 * The createRuntime hook that lets pasta join a container between `runc create` and `runc start` even when the
 * runtime is driven by `runc run` (foreground): the hook (host /bin/sh, run by runc with the state JSON on stdin)
 * publishes the state and waits for the go-file (`ok` lets runc continue; anything else fails the start). runc
 * kills it after `timeout` seconds, so a killed caller cannot hang runc. Pure.
 */
export function pastaHook(dir: string): { path: string; args: string[]; timeout: number } {
  const f = pastaHookFiles(dir);
  const script = 'cat > "$1.tmp" && mv "$1.tmp" "$1" && while [ ! -e "$2" ]; do sleep 0.01; done; [ "$(cat "$2")" = ok ]';
  return { path: '/bin/sh', args: ['sh', '-c', script, 'sh', f.state, f.go], timeout: 60 };
}

/**
 * Serves one pasta hook handshake: waits (polling) until the hook published the container state or `done()` says
 * the runtime finished without running it, calls `attach` with the container's pid, then releases the hook.
 * Resolves with what `attach` returned (undefined when the hook never ran); rejects with the attach error after
 * failing the hook, so runc aborts the start. When `o.signal` aborts while it waits, the hook is failed too and
 * the result is EABORT.
 */
export async function servePastaHook<T>(dir: string, done: () => boolean, attach: (pid: number) => Promise<T>, o: Cancellable = {}): Promise<T | undefined> {
  const f = pastaHookFiles(dir);
  let text: string | undefined;
  for (;;) {
    text = await readFile(f.state, 'utf8').catch(() => undefined);
    if (text !== undefined || done()) break;
    try {
      await sleep(5, undefined, { signal: o.signal });
    } catch (e) {
      await writeFileAtomic(f.go, 'fail', 0o600).catch(() => {});
      throwIfAborted(o.signal);
      throw e;
    }
  }
  if (text === undefined) return undefined;
  try {
    const pid = (JSON.parse(text) as { pid?: number }).pid;
    if (!pid || !Number.isInteger(pid)) throw new SkiffError('EIO', 'the runtime hook did not report the container pid');
    const r = await attach(pid);
    await writeFileAtomic(f.go, 'ok', 0o600);
    return r;
  } catch (e) {
    await writeFileAtomic(f.go, 'fail', 0o600).catch(() => {});
    throw e;
  }
}

/** Removes the hook handshake files (before a start). Idempotent. */
export async function resetPastaHook(dir: string): Promise<void> {
  const f = pastaHookFiles(dir);
  await rm(f.state, { force: true });
  await rm(f.go, { force: true });
}
