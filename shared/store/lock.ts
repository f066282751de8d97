import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, constants as C } from 'node:fs';
import { SkiffError } from '../errors.ts';

/** A held advisory lock; release() is idempotent. */
export interface LockHandle {
  readonly path: string;
  release(): Promise<void>;
}

/** How to take a lock: exclusive or shared, and whether (and how long) to wait. */
export interface LockOptions {
  shared?: boolean;
  /** false: fail at once with ELOCKED when busy; a number: wait at most that many ms; default: wait forever. */
  wait?: boolean | number;
  signal?: AbortSignal;
}

/**
 * Takes a kernel flock(2) on `path` (created 0600 if missing; never renamed or deleted by skiff).
 *
 * Node has no flock, so a tiny `flock(1)` child process holds the lock for us: it runs `cat` once it has the lock,
 * and `cat` echoing the line we wrote to its stdin is the signal (no shell in between). The child reads our end of a pipe: when this process dies, even by SIGKILL, the pipe closes, the
 * child exits and the kernel drops the lock — a dead holder never leaves a stale lock (LS-10). Each call is
 * its own open file description, so two holders in one process exclude each other too. The child is
 * unref'd: a held lock never keeps the process alive. ENOENT when the directory of `path` does not exist, and
 * ENOTFOUND when it disappears while the lock is being taken: a removed directory is never recreated.
 */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<LockHandle> {
  closeSync(openSync(path, C.O_CREAT | C.O_RDONLY, 0o600)); // libuv sets O_CLOEXEC itself
  const args = [opts.shared ? '-s' : '-x'];
  if (opts.wait === false) args.push('-n');
  else if (typeof opts.wait === 'number') args.push('-w', String(Math.max(opts.wait, 1) / 1000));
  args.push(path, 'cat');
  const child = spawn('flock', args, { stdio: ['pipe', 'pipe', 'ignore'] });
  child.stdin.on('error', () => {}); // flock -n may exit before reading: EPIPE is its answer, not an error
  child.stdin.write('L\n');
  const acquired = await new Promise<boolean>((resolve, reject) => {
    let out = '';
    const onAbort = (): void => {
      child.kill('SIGKILL');
      reject(new SkiffError('EABORT', `cancelled while waiting for lock ${path}`));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new SkiffError('ENODEP', `cannot run flock to lock ${path}: ${(e as Error).message}`, { hint: 'install util-linux' }));
    });
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('L\n')) {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(true);
      }
    });
    child.on('exit', () => {
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(false);
    });
  });
  if (!acquired) {
    // flock could not open the file (66, EX_NOINPUT): its directory was removed (renamed away) after our open above
    if (child.exitCode === 66 && !existsSync(path)) throw new SkiffError('ENOTFOUND', `${path} was removed while taking its lock`);
    throw new SkiffError('ELOCKED', `${path} is locked by another process`, { hint: 'wait for the other skiff command to finish and try again' });
  }
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  let released: Promise<void> | undefined;
  return {
    path,
    release(): Promise<void> {
      released ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.ref(); // keep the loop alive until the holder is gone, so release() really waits
        child.once('exit', () => resolve());
        child.stdin.end();
      });
      return released;
    },
  };
}

/** Runs `fn` while holding the lock on `path`; always releases. */
export async function withLock<T>(path: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** True when nobody holds an exclusive-compatible lock on `path` right now (probe with a non-blocking take). */
export async function isLockFree(path: string): Promise<boolean> {
  try {
    const l = await acquireLock(path, { wait: false });
    await l.release();
    return true;
  } catch (e) {
    if (e instanceof SkiffError && e.code === 'ELOCKED') return false;
    throw e;
  }
}
