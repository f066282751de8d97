import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, statSync, constants as C } from 'node:fs';
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

/** flock(1)'s exit status when the lock is busy (-n) or the wait (-w) ran out. */
const BUSY = 1;

/**
 * Takes a kernel flock(2) on `path` (created 0600 if missing).
 *
 * Node has no flock, so a short-lived `flock(1)` child takes it for us on an open file description this process
 * owns: we open `path` and hand the descriptor to `flock N` as its fd 3 (a dup of the same open file
 * description). flock locks belong to the open file description, so when the child exits with status 0 the lock
 * stays held through our descriptor — no helper process lives on, and release() is one close(2). When this
 * process dies, even by SIGKILL, the kernel closes the descriptor and drops the lock: a dead holder never leaves a
 * stale lock (LS-10). Each call opens its own description, so two holders in one process exclude each other too.
 * The descriptor is close-on-exec (libuv's default): containers, monitors and helpers spawned later never inherit
 * it. Nothing keeps the process alive while a lock is held. ENOENT when the directory of `path` does not exist.
 * When `path` is unlinked while we wait (a lock on the old inode would exclude nobody), the lock is taken again
 * on what `path` names now; ENOTFOUND when its directory was removed (renamed away) meanwhile: a removed
 * directory is never recreated.
 */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<LockHandle> {
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw new SkiffError('EABORT', `cancelled while waiting for lock ${path}`);
    let fd: number;
    try {
      fd = openSync(path, C.O_CREAT | C.O_RDONLY, 0o600); // libuv sets O_CLOEXEC itself
    } catch (e) {
      // the first open reports a missing directory as it is (ENOENT); on a retry it was removed meanwhile
      if (attempt > 0 && (e as NodeJS.ErrnoException).code === 'ENOENT') throw new SkiffError('ENOTFOUND', `${path} was removed while taking its lock`, { cause: e });
      throw e;
    }
    let status: number | null;
    try {
      status = await flockFd(path, fd, opts);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    if (status !== 0) {
      closeSync(fd);
      if (status === BUSY) throw new SkiffError('ELOCKED', `${path} is locked by another process`, { hint: 'wait for the other skiff command to finish and try again' });
      throw new SkiffError('ENODEP', `flock failed to lock ${path} (exit status ${status})`, { hint: 'install util-linux' });
    }
    if (!samePath(path, fd)) {
      // unlinked (or replaced) while we waited: a lock on that inode excludes nobody who opens `path` now; take
      // the lock on what `path` names now (a removed directory is never recreated: that open fails ENOTFOUND)
      closeSync(fd);
      if (attempt >= 8) throw new SkiffError('ENOTFOUND', `${path} was removed while taking its lock`);
      continue;
    }
    let open = true;
    return {
      path,
      release(): Promise<void> {
        if (open) {
          open = false;
          closeSync(fd); // the last reference to the open file description: the kernel drops the lock now
        }
        return Promise.resolve();
      },
    };
  }
}

/** Runs `flock -x|-s [-n|-w S] 3` on `fd` (the child's fd 3); resolves its exit status (null when killed). */
function flockFd(path: string, fd: number, opts: LockOptions): Promise<number | null> {
  const args = [opts.shared ? '-s' : '-x'];
  if (opts.wait === false) args.push('-n');
  else if (typeof opts.wait === 'number') args.push('-w', String(Math.max(opts.wait, 1) / 1000));
  args.push('3');
  return new Promise<number | null>((resolve, reject) => {
    const child = spawn('flock', args, { stdio: ['ignore', 'ignore', 'ignore', fd] });
    const onAbort = (): void => {
      child.kill('SIGKILL'); // a lock it took just before dying goes with our descriptor, closed by the caller
      reject(new SkiffError('EABORT', `cancelled while waiting for lock ${path}`));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new SkiffError('ENODEP', `cannot run flock to lock ${path}: ${(e as Error).message}`, { hint: 'install util-linux' }));
    });
    child.on('exit', (code) => {
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(code);
    });
  });
}

/** True when `path` still names the file `fd` is open on (not unlinked, not replaced). */
function samePath(path: string, fd: number): boolean {
  const a = fstatSync(fd);
  try {
    const b = statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
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
