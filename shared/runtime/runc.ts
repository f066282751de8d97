import { spawn, type StdioOptions } from 'node:child_process';
import { chmod, lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { hostUid } from './userns-marker.ts';
import { storageConfRunRoot } from '../config/storage-conf.ts';
import { exitStatus, runProgram, spawnError, type ProgramResult } from '../process/run.ts';
import { judgeRuncVersion, parseRuncVersion, type RuncVerdict, type RuncVersion } from './runc-version.ts';

/** Result of a runc command whose output was collected. */
export type RuncOutput = ProgramResult;

/** Asks a runc binary for its version. ENODEP when it cannot be run or prints no version. */
export async function runcVersion(path: string, o: Cancellable = {}): Promise<RuncVersion> {
  const r = await runProgram(path, ['--version'], o);
  const v = parseRuncVersion(r.stdout);
  if (r.code !== 0 || !v) throw new SkiffError('ENODEP', `${path} --version failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return v;
}

/**
 * The version gate (RU-01): judges `path`'s version and, for an old upstream runc, warns loudly through
 * `onWarning` — or refuses with EPERM when `strict` (an opt-in; the only runc a machine has is never refused
 * by default). Returns the verdict.
 */
export async function gateRunc(path: string, o: { strict?: boolean; onWarning?: (msg: string) => void; signal?: AbortSignal } = {}): Promise<RuncVerdict & { version: RuncVersion }> {
  const version = await runcVersion(path, o.signal ? { signal: o.signal } : {});
  const verdict = judgeRuncVersion(version);
  if (verdict.status === 'old' || verdict.status === 'unknown') {
    if (o.strict) throw new SkiffError('EPERM', verdict.message, { hint: 'upgrade runc, or run without strict runc checking' });
    o.onWarning?.(`WARNING: ${verdict.message}`);
  }
  return { ...verdict, version };
}

/**
 * The runc `--root` state directory for a user (RU-16): `<runroot>/skiff/runc` when storage.conf sets a run root
 * for this user (storageConfRunRoot); else root → /run/skiff/runc; others → $XDG_RUNTIME_DIR/skiff/runc (also
 * inside skiff's rootless namespace, where the process is uid 0). EPERM when a rootless user has neither.
 */
export function runcRootFor(uidArg?: number, env: NodeJS.ProcessEnv = process.env): string {
  const uid = uidArg ?? hostUid(env);
  const configured = storageConfRunRoot(env, uid);
  if (configured !== undefined) return join(configured, 'runc');
  if (uid === 0) return '/run/skiff/runc';
  const x = env.XDG_RUNTIME_DIR;
  if (!x || !x.startsWith('/')) throw new SkiffError('EPERM', 'XDG_RUNTIME_DIR is not set', { hint: 'log in through a session manager or export XDG_RUNTIME_DIR=/run/user/$(id -u) (a directory you own, 0700)' });
  return join(x, 'skiff', 'runc');
}

/**
 * Creates `dir` (and parents) and makes it 0700 and owned by the caller (RU-16). Idempotent. EUNSAFE when it
 * exists as a symlink or belongs to another user.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new SkiffError('EUNSAFE', `${dir} is not a directory`);
  if (st.uid !== (process.getuid?.() ?? 0)) throw new SkiffError('EUNSAFE', `${dir} belongs to uid ${st.uid}, not to you`);
  if ((st.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

/** What a container's state looks like to runc (`runc state`). */
export interface RuncState {
  ociVersion: string;
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused';
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
}

/** Options of a foreground run or an exec. */
export interface RuncRunOptions {
  /** stdio of the container (default: inherit the caller's); extra entries are preserved fds 3, 4, … */
  stdio?: StdioOptions;
  /** number of extra fds (after stdio) passed to the container (`--preserve-fds`) */
  preserveFds?: number;
  /** given the runc child right after spawn (to proxy signals, write stdin, read piped output) */
  onSpawn?: (child: import('node:child_process').ChildProcess) => void;
  /** on abort the container is SIGKILLed and the promise rejects with EABORT once runc exits */
  signal?: AbortSignal;
}

/** One runc binary and its state dir. Methods map 1:1 to runc subcommands; ids are validated. */
export class Runc {
  readonly path: string;
  readonly root: string;
  /** runc's `--systemd-cgroup`: cgroupsPath is `slice:prefix:name` and systemd makes the scope */
  readonly systemdCgroup: boolean;

  /** `root` must already be a private dir (ensurePrivateDir). */
  constructor(path: string, root: string, o: { systemdCgroup?: boolean } = {}) {
    this.path = path;
    this.root = root;
    this.systemdCgroup = o.systemdCgroup === true;
  }

  /** The global flags every command of this runc takes (its state dir, the cgroup driver), for a program that runs it for us (conmon's `--runtime-arg`). */
  globalArgs(): string[] {
    return ['--root', this.root, ...(this.systemdCgroup ? ['--systemd-cgroup'] : [])];
  }

  #args(sub: string[]): string[] {
    return [...this.globalArgs(), ...sub];
  }

  /** Whether runc keeps state for `id` (its `<root>/<id>` dir): without it `delete` has nothing to do. */
  hasState(id: string): boolean {
    return existsSync(join(this.root, Runc.checkId(id)));
  }

  static checkId(id: string): string {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(id)) throw new SkiffError('EINVALID', `invalid container id ${JSON.stringify(id)}`);
    return id;
  }

  /**
   * Runs one runc subcommand to its end, collecting its output. A signal aborted before the call is EABORT; runc
   * itself is never killed half-way (a half-done create or delete would leave state behind).
   */
  #collect(sub: string[], o: { signal?: AbortSignal; stdio?: StdioOptions } = {}): Promise<RuncOutput> {
    throwIfAborted(o.signal);
    return runProgram(this.path, this.#args(sub), o.stdio ? { stdio: o.stdio } : {});
  }

  async #must(sub: string[], o: Cancellable = {}): Promise<RuncOutput> {
    const r = await this.#collect(sub, o);
    if (r.code !== 0) throw new SkiffError('EIO', `runc ${sub[0]} failed: ${r.stderr.trim() || `exit ${r.code}`}`, { details: { code: r.code, stderr: r.stderr } });
    return r;
  }

  #spawnFg(sub: string[], o: RuncRunOptions): Promise<number> {
    throwIfAborted(o.signal);
    const id = sub[sub.length - 1]!;
    return new Promise((resolve, reject) => {
      const child = spawn(this.path, this.#args(sub), { stdio: o.stdio ?? 'inherit' });
      let aborted = false;
      const onAbort = () => {
        aborted = true;
        void this.#collect(['kill', id, 'KILL']).catch(() => {});
      };
      o.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e) => {
        o.signal?.removeEventListener('abort', onAbort);
        reject(spawnError(this.path, e));
      });
      child.on('close', (code, sig) => {
        o.signal?.removeEventListener('abort', onAbort);
        if (aborted) reject(new SkiffError('EABORT', `container ${id} cancelled`));
        else resolve(exitStatus(code, sig));
      });
      o.onSpawn?.(child);
    });
  }

  /**
   * `runc run` in the foreground: the container's exit code (128+signal when killed). runc itself forwards
   * signals it receives to the container. runc's own failures (missing command → 127-ish codes are runc's).
   */
  run(id: string, bundle: string, o: RuncRunOptions = {}): Promise<number> {
    return this.#spawnFg(['run', ...(o.preserveFds ? ['--preserve-fds', String(o.preserveFds)] : []), '--bundle', bundle, Runc.checkId(id)], o);
  }

  /** `runc create` (detached; the container waits in `runc init` until start). */
  async create(id: string, bundle: string, o: { pidFile?: string; preserveFds?: number; stdio?: StdioOptions; signal?: AbortSignal } = {}): Promise<void> {
    const sub = ['create', '--bundle', bundle, ...(o.pidFile ? ['--pid-file', o.pidFile] : []), ...(o.preserveFds ? ['--preserve-fds', String(o.preserveFds)] : []), Runc.checkId(id)];
    const r = await this.#collect(sub, o);
    if (r.code !== 0) throw new SkiffError('EIO', `runc create failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  /** `runc start`. */
  async start(id: string, o: Cancellable = {}): Promise<void> {
    await this.#must(['start', Runc.checkId(id)], o);
  }

  /** `runc kill [--all] ID SIGNAL`. */
  async kill(id: string, signal = 'TERM', o: { all?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await this.#must(['kill', ...(o.all ? ['--all'] : []), Runc.checkId(id), signal.replace(/^SIG/, '')], o);
  }

  /** `runc delete [--force]`. Idempotent: a container runc does not know is not an error. */
  async delete(id: string, o: { force?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    const r = await this.#collect(['delete', ...(o.force ? ['--force'] : []), Runc.checkId(id)], o);
    if (r.code !== 0 && !/does not exist|not found/.test(r.stderr)) throw new SkiffError('EIO', `runc delete failed: ${r.stderr.trim()}`);
  }

  /** `runc state` as JSON; undefined when runc does not know the container. */
  async state(id: string, o: Cancellable = {}): Promise<RuncState | undefined> {
    const r = await this.#collect(['state', Runc.checkId(id)], o);
    if (r.code !== 0) {
      if (/does not exist|not found/.test(r.stderr)) return undefined;
      throw new SkiffError('EIO', `runc state failed: ${r.stderr.trim()}`);
    }
    return JSON.parse(r.stdout) as RuncState;
  }

  /** `runc list` ids. */
  async list(o: Cancellable = {}): Promise<RuncState[]> {
    const r = await this.#must(['list', '--format', 'json'], o);
    return (JSON.parse(r.stdout || 'null') as RuncState[] | null) ?? [];
  }

  /** `runc exec --process FILE ID` in the foreground: the process's exit code. */
  exec(id: string, processJson: string, o: RuncRunOptions = {}): Promise<number> {
    return this.#spawnFg(['exec', '--process', processJson, ...(o.preserveFds ? ['--preserve-fds', String(o.preserveFds)] : []), Runc.checkId(id)], o);
  }

  /** `runc pause` (freezes the container through its freezer cgroup). */
  async pause(id: string, o: Cancellable = {}): Promise<void> {
    await this.#must(['pause', Runc.checkId(id)], o);
  }

  /** `runc resume` (thaws a paused container). */
  async resume(id: string, o: Cancellable = {}): Promise<void> {
    await this.#must(['resume', Runc.checkId(id)], o);
  }

  /** `runc ps ID -o FORMAT` (ps(1) output of the container's processes); EIO with runc's message when it fails. */
  async ps(id: string, format: string, o: Cancellable = {}): Promise<string> {
    return (await this.#must(['ps', Runc.checkId(id), '-o', format], o)).stdout;
  }

  /**
   * `runc exec -d --process FILE ID`: starts the process detached and returns at once; the result holds runc's
   * stderr (a non-zero code when it could not start the process). Never throws for a non-zero exit.
   */
  execDetached(id: string, processJson: string, o: Cancellable = {}): Promise<RuncOutput> {
    return this.#collect(['exec', '-d', '--process', processJson, Runc.checkId(id)], { ...o, stdio: ['ignore', 'ignore', 'pipe'] });
  }
}

/**
 * podman's exit code for a container that runc could not start, from runc's stderr: 127 when the command
 * does not exist, 126 when it cannot be executed (permission, not executable), undefined when runc's output
 * names neither (the container's own code stands). Pure.
 */
export function startFailureCode(stderr: string): 126 | 127 | undefined {
  if (!/exec|starting container process/.test(stderr)) return undefined;
  if (/executable file not found|no such file or directory/i.test(stderr)) return 127;
  if (/permission denied|exec format error|is a directory/i.test(stderr)) return 126;
  return undefined;
}
