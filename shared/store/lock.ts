import { appendFileSync, closeSync, openSync, statSync, constants as C } from 'node:fs';
import type { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** SQLite's result code for a lock another connection holds. */
const SQLITE_BUSY = 5;

/**
 * Takes a kernel advisory lock on `path` (created 0600, empty, if missing), shared or exclusive, in this process:
 * no child process is started.
 *
 * Node has no flock(2) or fcntl(2), but its built-in SQLite (`node:sqlite`) takes fcntl(2) byte-range locks on the
 * file it opens: a read transaction holds SQLite's SHARED lock, `BEGIN EXCLUSIVE` its EXCLUSIVE lock, with the
 * semantics a reader/writer lock needs (any number of shared holders, or one exclusive holder). The lock file stays
 * an empty file: nothing is ever written to it, and the rollback journal is kept in memory, so no `-journal` file
 * appears beside it. The properties callers rely on:
 *   - a dead holder never leaves a stale lock: the kernel drops a process's fcntl locks when it exits, even by
 *     SIGKILL (LS-10); release() closes the connection and frees the lock at once;
 *   - two holders in one process exclude each other too: SQLite tracks the locks of every connection to one file
 *     inside the process (fcntl locks alone are per process) and keeps the descriptors of a closed connection open
 *     while another connection of this process still locks the file, so one release never drops another's lock;
 *   - the descriptor is close-on-exec (SQLite opens with O_CLOEXEC): containers, monitors and helpers spawned
 *     later never inherit it; nothing keeps the process alive while a lock is held;
 *   - a wait polls a non-blocking attempt (the event loop is never blocked; first every 1 ms, backing off to 10 ms,
 *     then 50 ms after a second) until the lock is free, `wait` ms have passed (ELOCKED) or `signal` aborts (EABORT).
 * This process must never open and close a lock file by other means while holding its lock: closing any descriptor
 * of a file drops the process's fcntl locks on it. Locks taken here do not exclude flock(2) holders (an older
 * skiff): run one version at a time on a store.
 * ENOENT when the directory of `path` does not exist. When `path` is unlinked or replaced while we wait (a lock on
 * the old inode would exclude nobody), the lock is taken again on what `path` names now; ENOTFOUND when its
 * directory was removed (renamed away) meanwhile: a removed directory is never recreated.
 */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<LockHandle> {
  const deadline = typeof opts.wait === 'number' ? Date.now() + Math.max(opts.wait, 1) : opts.wait === false ? 0 : Infinity;
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    aborted(path, opts.signal);
    const before = ensureFile(path, attempt);
    let db: DatabaseSync;
    try {
      db = openDb(path);
    } catch (e) {
      // unlinked, or its directory renamed away, between the check and the open: the next attempt creates it
      // again or finds the directory gone (ENOTFOUND), as for a file replaced while we wait
      if (!sameFile(path, before) && attempt < 8) continue;
      throw e;
    }
    let held = false;
    try {
      for (let poll = 0; ; poll++) {
        if (tryTake(db, path, opts.shared === true)) break;
        if (Date.now() >= deadline) throw new SkiffError('ELOCKED', `${path} is locked by another process`, { hint: 'wait for the other skiff command to finish and try again' });
        const pause = Math.min(2 ** poll, Date.now() - started > 1000 ? 50 : 10, deadline - Date.now());
        await sleep(Math.max(pause, 1), undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => aborted(path, opts.signal));
        aborted(path, opts.signal);
      }
      held = true;
    } finally {
      if (!held) db.close();
    }
    if (!sameFile(path, before)) {
      // unlinked (or replaced) while we waited: a lock on that inode excludes nobody who opens `path` now; take
      // the lock on what `path` names now (a removed directory is never recreated: that open fails ENOTFOUND)
      db.close();
      if (attempt >= 8) throw new SkiffError('ENOTFOUND', `${path} was removed while taking its lock`);
      continue;
    }
    traceLock(path, opts.shared === true);
    let open = true;
    return {
      path,
      release(): Promise<void> {
        if (open) {
          open = false;
          db.close(); // ends the transaction: the lock is free for the next taker now
        }
        return Promise.resolve();
      },
    };
  }
}

/** Throws EABORT once `signal` is aborted. */
function aborted(path: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SkiffError('EABORT', `cancelled while waiting for lock ${path}`);
}

/**
 * Creates `path` (0600, empty) when missing and returns the identity of the file it names. A file created here is
 * a new inode nobody locks yet, so closing our descriptor of it drops no lock; an existing file is never opened here.
 */
function ensureFile(path: string, attempt: number): { ino: number; dev: number } {
  try {
    closeSync(openSync(path, C.O_CREAT | C.O_EXCL | C.O_WRONLY, 0o600));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // the first open reports a missing directory as it is (ENOENT); on a retry it was removed meanwhile
    if (code === 'ENOENT' && attempt > 0) throw new SkiffError('ENOTFOUND', `${path} was removed while taking its lock`, { cause: e });
    if (code !== 'EEXIST') throw e;
  }
  try {
    const st = statSync(path);
    return { ino: st.ino, dev: st.dev };
  } catch (e) {
    // removed between the create and the stat: the next attempt creates it again or finds its directory gone
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ino: -1, dev: -1 };
    throw e;
  }
}

/** True when `path` names the file `before` identified (not unlinked, not replaced). */
function sameFile(path: string, before: { ino: number; dev: number }): boolean {
  try {
    const st = statSync(path);
    return st.ino === before.ino && st.dev === before.dev;
  } catch {
    return false;
  }
}

let sqlite: typeof import('node:sqlite') | undefined;

/** node:sqlite, loaded on the first lock (about 1 ms); the experimental-feature warning some Node 22/24 releases print is not the user's concern. */
function loadSqlite(): typeof import('node:sqlite') {
  if (sqlite) return sqlite;
  const emit = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    if (/SQLite/.test(typeof warning === 'string' ? warning : warning.message)) return;
    (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    sqlite = process.getBuiltinModule('node:sqlite') as typeof import('node:sqlite') | undefined;
  } finally {
    process.emitWarning = emit;
  }
  if (!sqlite) throw new SkiffError('ENODEP', 'this Node.js has no node:sqlite, which skiff takes its locks with', { hint: 'use Node.js 22.15 or later' });
  return sqlite;
}

/** A connection to the lock file (no lock yet): ENOENT-like failures surface as they are. */
function openDb(path: string): DatabaseSync {
  try {
    return new (loadSqlite().DatabaseSync)(path);
  } catch (e) {
    throw new SkiffError('EIO', `cannot open lock file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** One non-blocking attempt: true when the lock is now held by `db`, false when another holder has it. */
function tryTake(db: DatabaseSync, path: string, shared: boolean): boolean {
  try {
    if (shared) {
      db.exec('BEGIN');
      db.exec('SELECT 1 FROM sqlite_master LIMIT 1'); // the first read takes the SHARED lock
    } else {
      db.exec('PRAGMA journal_mode=MEMORY'); // no -journal file beside the lock (not persistent; asked each time)
      db.exec('BEGIN EXCLUSIVE');
    }
    return true;
  } catch (e) {
    try {
      db.exec('ROLLBACK'); // a read transaction begun before its read was refused
    } catch {
      // no transaction was open
    }
    if ((e as { errcode?: number }).errcode === SQLITE_BUSY || /database is locked/.test((e as Error).message)) return false;
    throw new SkiffError('EIO', `cannot lock ${path}: ${(e as Error).message}`, { cause: e, hint: 'a lock file must be empty: remove it when no skiff command runs' });
  }
}

/** With SKIFF_LOCK_TRACE=FILE, one line per lock taken (`x|s PATH`): tests count a command's locks with it. */
function traceLock(path: string, shared: boolean): void {
  const f = process.env.SKIFF_LOCK_TRACE;
  if (f) appendFileSync(f, `${shared ? 's' : 'x'} ${path}\n`);
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
