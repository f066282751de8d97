import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, unlinkSync } from 'node:fs';
import { mkdir, readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { acquireLock, type LockHandle } from './lock.ts';

const ID_RE = /^[a-f0-9]{32}$/;

/**
 * A writing process's presence in a store: a private temp dir `<tmpRoot>/<id>/` and an owner lock
 * `<tmpRoot>/<id>.lock` held for the life of the process. The lock is taken BEFORE the dir is made, so
 * a temp dir whose lock is free belongs to a dead (or finished) process and may be removed (LS-01, LS-10).
 * Leases of this process point at the same id (see lease.ts): the session lock is their liveness proof.
 *
 * Created lazily: nothing is written until dir() or ensure() is called. Closing removes the dir and lock
 * file; a process that dies leaves them for cleanStaleTemps().
 */
export class Session {
  readonly tmpRoot: string;
  #id: string = randomBytes(16).toString('hex');
  #lock: LockHandle | undefined;
  #starting: Promise<string> | undefined;
  #closed = false;

  constructor(tmpRoot: string) {
    this.tmpRoot = tmpRoot;
  }

  /** The session id (random hex; fixed once the session has started). */
  get id(): string {
    return this.#id;
  }

  /** The lock file that proves this session alive. */
  get lockPath(): string {
    return join(this.tmpRoot, `${this.id}.lock`);
  }

  /** Takes the owner lock and makes the temp dir (once); returns the dir. Idempotent. */
  dir(o: Cancellable = {}): Promise<string> {
    if (this.#closed) return Promise.reject(new SkiffError('EINVALID', 'store session already closed'));
    this.#starting ??= this.#start(o).catch((e) => {
      this.#starting = undefined;
      throw e;
    });
    return this.#starting;
  }

  async #start(o: Cancellable): Promise<string> {
    throwIfAborted(o.signal);
    await mkdir(this.tmpRoot, { recursive: true, mode: 0o700 });
    // A cleaner (another process's cleanStaleTemps) can see our fresh lock file and take it for a moment
    // before we do: then our non-blocking take fails, or — if we got it right after the cleaner unlinked the
    // file — we hold a lock on an orphaned inode. Cleaners unlink while holding the lock, so checking that
    // the file still exists after acquiring detects the second case. Either way: start over with a new id.
    for (let attempt = 0; ; attempt++) {
      let lock: LockHandle | undefined;
      try {
        lock = await acquireLock(this.lockPath, { wait: false, signal: o.signal });
      } catch (e) {
        if (!(e instanceof SkiffError && e.code === 'ELOCKED') || attempt >= 8) throw e;
      }
      if (lock && existsSync(this.lockPath)) {
        this.#lock = lock;
        break;
      }
      await lock?.release();
      if (attempt >= 8) throw new SkiffError('ELOCKED', `could not start a session in ${this.tmpRoot}`);
      this.#id = randomBytes(16).toString('hex');
    }
    const dir = join(this.tmpRoot, this.id);
    await mkdir(dir, { mode: 0o700 });
    registerExitCleanup(this);
    return dir;
  }

  /** True once the owner lock is held. */
  get started(): boolean {
    return this.#lock !== undefined;
  }

  /** Removes the temp dir and the lock file, then releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#starting?.catch(() => {});
    if (!this.#lock) return;
    await rm(join(this.tmpRoot, this.id), { recursive: true, force: true });
    await unlink(this.lockPath).catch(() => {});
    await this.#lock.release();
    live.delete(this);
  }

  /** Synchronous best-effort cleanup for process exit (the lock dies with the process anyway). */
  closeSync(): void {
    if (!this.#lock || this.#closed) return;
    this.#closed = true;
    rmSync(join(this.tmpRoot, this.id), { recursive: true, force: true });
    try {
      unlinkSync(this.lockPath);
    } catch {
      /* already gone */
    }
  }
}

const live = new Set<Session>();
let exitHookInstalled = false;
function registerExitCleanup(s: Session): void {
  live.add(s);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const x of live) x.closeSync();
  });
}

const sessions = new Map<string, Session>();

/** This process's session for `tmpRoot` (one per process and store; created lazily, never started here). */
export function sessionFor(tmpRoot: string): Session {
  let s = sessions.get(tmpRoot);
  if (!s) {
    s = new Session(tmpRoot);
    sessions.set(tmpRoot, s);
  }
  return s;
}

/** Forgets the per-process session of `tmpRoot` (after close), so the next write starts a new one. */
export function dropSession(tmpRoot: string): void {
  sessions.delete(tmpRoot);
}

/**
 * Removes temp dirs (and lock files) of sessions whose owner lock is free — dead or finished processes.
 * A live session's lock is held, so its dir is never touched. Each candidate is removed while its lock is
 * held by the cleaner, and the lock file is unlinked before release (see Session.#start for why that is
 * safe). Returns the ids removed.
 */
export async function cleanStaleTemps(tmpRoot: string, o: { signal?: AbortSignal; keep?: ReadonlySet<string> } = {}): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(tmpRoot);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const ids = new Set<string>();
  for (const n of names) {
    const id = n.endsWith('.lock') ? n.slice(0, -5) : n;
    if (ID_RE.test(id) && !o.keep?.has(id)) ids.add(id);
  }
  const removed: string[] = [];
  for (const id of ids) {
    throwIfAborted(o.signal);
    const lockPath = join(tmpRoot, `${id}.lock`);
    let lock: LockHandle;
    try {
      lock = await acquireLock(lockPath, { wait: false });
    } catch (e) {
      if (e instanceof SkiffError && e.code === 'ELOCKED') continue; // alive
      throw e;
    }
    try {
      await rm(join(tmpRoot, id), { recursive: true, force: true });
      await unlink(lockPath).catch(() => {});
      removed.push(id);
    } finally {
      await lock.release();
    }
  }
  return removed;
}

/** True when the session `id` under `tmpRoot` is held by a live process (probes its lock without waiting). */
export async function isSessionAlive(tmpRoot: string, id: string): Promise<boolean> {
  if (!ID_RE.test(id)) return false;
  const lockPath = join(tmpRoot, `${id}.lock`);
  if (!existsSync(lockPath)) return false;
  try {
    const l = await acquireLock(lockPath, { wait: false });
    // Do not leave a fresh lock file behind if we created it; the session is dead either way.
    await l.release();
    return false;
  } catch (e) {
    if (e instanceof SkiffError && e.code === 'ELOCKED') return true;
    throw e;
  }
}

/** Ids of temp dirs under `tmpRoot` whose session is not alive (what cleanStaleTemps would remove); read-only. */
export async function staleSessionIds(tmpRoot: string): Promise<string[]> {
  const names = await readdir(tmpRoot).catch(() => [] as string[]);
  const ids = new Set<string>();
  for (const n of names) {
    const id = n.endsWith('.lock') ? n.slice(0, -5) : n;
    if (ID_RE.test(id)) ids.add(id);
  }
  const out: string[] = [];
  for (const id of ids) if (!(await isSessionAlive(tmpRoot, id))) out.push(id);
  return out;
}
