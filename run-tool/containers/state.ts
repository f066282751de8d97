/**
 * Container state API (used by every run-tool command, and by the image/volume commands).
 *
 * Layout: `<root>/containers/<id>/` (0700) per container, `<id>` always 64 lower-case hex (never a user name):
 *   record.json   what the container is (ContainerRecord: name, image, command, options) — written once at create
 *   state.json    what it is doing (ContainerState: status, pids, exit code, times) — rewritten atomically
 *   lock          lock target for state transitions (lockContainer)
 *   bundle/       runc bundle (config.json); rootfs/ upper/ work/ the overlay; userdata/ generated /etc files
 *   ctr.log       k8s-file log (conmon); exits/ conmon exit files; conmon.pid
 * Names: `<root>/containers/names/<sha256(name)>` holds the owning id; created with O_EXCL, so names are unique
 * without a global lock, and a raw name is never part of a path (RU-07).
 *
 * API:
 *   containerPaths(root, id) → ContainerPaths           paths of one container (pure)
 *   validateName(name) → string                          RU-07 check; strips one leading '/'
 *   generateName() / newContainerId()                    adjective_noun / 64 hex
 *   reserveName(root, name, id) / releaseName(root, name, id)
 *   listContainers(root) → LoadedContainer[]             every readable container, oldest first
 *   loadContainer(root, nameOrId) → LoadedContainer      by exact name, full id or unique id prefix; ENOTFOUND
 *   saveState(root, id, state)                           atomic rewrite of state.json
 *   lockContainer(root, id, opts) → LockHandle           exclusive lock on the container (ENOTFOUND once removed)
 *   removeContainerDir(root, id)                         renames the directory away, then deletes it (race-free)
 *   updateState(root, id, fn)                            read-modify-write under the container lock
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError } from '../../shared/errors.ts';
import { compareTimestamps } from '../../shared/time/compare-timestamps.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { acquireLock, type LockHandle } from '../../shared/store/lock.ts';
import { storePaths } from '../../shared/store/paths.ts';
import { nameFileOf, releaseName as releaseNameFile, reserveName as reserveNameFile } from '../../shared/store/name-reservation.ts';
import type { MountRequest } from '../../shared/runtime/mounts.ts';

/** Restart policy as podman spells it. */
export interface RestartPolicy {
  name: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  /** on-failure:N */
  maximumRetryCount: number;
}

/** Health check settings (`--health-*`). Durations in ms. */
export interface HealthConfig {
  test: string[];
  interval: number;
  timeout: number;
  retries: number;
  startPeriod: number;
}

/** A published port (`-p`). */
export interface PortMapping {
  hostIP: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/** What a container is: fixed at create time. */
export interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  image: { name: string; id: string; digest: string };
  /** the process args (Path = args[0]) */
  args: string[];
  config: {
    env: string[];
    cmd: string[];
    entrypoint: string[];
    workingDir: string;
    /** the working directory came from `-w`: start refuses it when missing (podman 4.3); an image's WorkingDir is made */
    workdirFromFlag?: boolean;
    user: string;
    labels: Record<string, string>;
    stopSignal: string;
    stopTimeout: number;
    hostname: string;
    tty: boolean;
    openStdin: boolean;
    annotations: Record<string, string>;
  };
  hostConfig: {
    autoRemove: boolean;
    restartPolicy: RestartPolicy;
    networkMode: string;
    portBindings: PortMapping[];
    publishAll: boolean;
    readOnly: boolean;
    privileged: boolean;
    capAdd: string[];
    capDrop: string[];
    memory: number;
    nanoCpus: number;
    pidsLimit: number;
    init: boolean;
    dns: string[];
    extraHosts: string[];
    securityOpt: string[];
    preserveFds: number;
  };
  mounts: MountRequest[];
  /** named volumes to attach (volumes engineer's hook): name → destination */
  volumes: { name: string; destination: string; options: string[] }[];
  health?: HealthConfig;
  /** the unpacked layers (chain IDs, bottom first) the rootfs stacks */
  chainIDs: string[];
  /** the persistent store lease holding the image's blobs (RU-14) */
  leaseId: string;
  rootless: boolean;
  /** rootless with only the user's own id mapped: its layers live in a separate cache (layerCacheDir) */
  singleIdMapping?: boolean;
  /** `--userns=keep-id`: the invoking user's host ids kept inside; its layers live in a keep-id cache (layerCacheDir) */
  keepId?: { uid: number; gid: number };
  /** opaque network state from attachNetwork (bridge/pasta) */
  network?: unknown;
  /** namespaces shared with other containers: kind → the full id of the container holding it (ns-join.ts) */
  namespaces?: Partial<Record<'network' | 'ipc' | 'uts' | 'pid', string>>;
  /** the pod this container belongs to (64 hex; pods/state.ts) */
  pod?: string;
  /** this container is its pod's infra container */
  isInfra?: boolean;
  /** an absolute path that receives the monitor's pid at every start (`--infra-conmon-pidfile`) */
  conmonPidFile?: string;
  /** the command line that made it (inspect's CreateCommand; `generate systemd --new` reuses it) */
  createCommand?: string[];
  /** `--sdnotify` (absent: container) */
  sdNotify?: 'conmon' | 'container' | 'ignore';
  /** `--secret`: which secrets the container uses (inspect's Config.Secrets; never their data) */
  secrets?: { Name: string; ID: string; UID: number; GID: number; Mode: number }[];
}

/** Status names as podman prints them. */
export type ContainerStatus = 'created' | 'running' | 'stopping' | 'exited' | 'stopped' | 'removing';

/** What a container is doing: rewritten on every transition. */
export interface ContainerState {
  status: ContainerStatus;
  /** container init pid (0 when not running) */
  pid: number;
  /** conmon (or the foreground CLI) pid */
  monitorPid: number;
  /** 'conmon' for detached containers, 'cli' for a foreground `run` */
  monitor?: 'conmon' | 'cli';
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  /** true after stop/kill by the user (restart policy unless-stopped/always does not restart) */
  stoppedByUser: boolean;
  /** rootfs overlay currently mounted */
  mounted: boolean;
  /** frozen by `pause` (status stays running; pause-container.ts) */
  paused?: boolean;
  /** made by `init`: created in runc under its monitor, its process not started yet (status stays running) */
  initialized?: boolean;
  error?: string;
  health?: { status: 'starting' | 'healthy' | 'unhealthy'; failingStreak: number; log: { start: string; end: string; exitCode: number; output: string }[] };
  healthPid?: number;
}

/** The state as podman names it (`ps` .State, `system df -v` STATUS): `paused` and `initialized` over the recorded status. Pure. */
export function stateName(s: ContainerState): string {
  if (s.paused) return 'paused';
  if (s.initialized) return 'initialized';
  return s.status;
}

/** One container: record + state. */
export interface LoadedContainer {
  record: ContainerRecord;
  state: ContainerState;
}

/** Paths of a container. */
export interface ContainerPaths {
  dir: string;
  record: string;
  state: string;
  lock: string;
  bundle: string;
  rootfs: string;
  upper: string;
  work: string;
  userdata: string;
  log: string;
  exits: string;
  conmonPid: string;
  pidFile: string;
  sockets: string;
  /** present while a CLI that stops the container has taken its cleanup on itself (the exit command then skips) */
  cleanupClaim: string;
  /** token file of a long-lived process (the API service) that cleans up the current run in-process (exitCommand) */
  serviceClaim: string;
  /** lock that makes that claim exclusive between such processes */
  serviceClaimLock: string;
}

const ID_RE = /^[0-9a-f]{64}$/;
/** podman's name rule; the length cap keeps names usable as host names and file-system friendly. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const NAME_MAX = 253;

/** Validates a 64-hex container id (EINVALID otherwise). Pure. */
export function checkId(id: string): string {
  if (!ID_RE.test(id)) throw new SkiffError('EINVALID', `invalid container id ${JSON.stringify(id)}`);
  return id;
}

/** Paths of container `id` under the store `root`. Pure; `id` is validated. */
export function containerPaths(root: string, id: string): ContainerPaths {
  const dir = join(storePaths(root).containers, checkId(id));
  return {
    dir,
    record: join(dir, 'record.json'),
    state: join(dir, 'state.json'),
    lock: join(dir, 'lock'),
    bundle: join(dir, 'bundle'),
    rootfs: join(dir, 'rootfs'),
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    userdata: join(dir, 'userdata'),
    log: join(dir, 'ctr.log'),
    exits: join(dir, 'exits'),
    conmonPid: join(dir, 'conmon.pid'),
    pidFile: join(dir, 'pidfile'),
    sockets: join(dir, 'sockets'),
    cleanupClaim: join(dir, 'cleanup-claimed'),
    serviceClaim: join(dir, 'cleanup-service'),
    serviceClaimLock: join(dir, 'cleanup-service.lock'),
  };
}

/**
 * The marker of run `runId`'s exit cleanup in container directory `dir`: made (mkdir, atomic) by whichever of the
 * exit command and the service watching the run decides first to clean that exit up; the other leaves it alone.
 */
export function exitTakenPath(dir: string, runId: string): string {
  return join(dir, `${EXIT_TAKEN_PREFIX}${runId}`);
}

/** Removes the exitTakenPath markers of earlier runs from container directory `dir` (a start, under the container lock). */
export async function clearExitTaken(dir: string): Promise<void> {
  for (const n of await readdir(dir).catch(() => [] as string[])) if (n.startsWith(EXIT_TAKEN_PREFIX)) await rm(join(dir, n), { recursive: true, force: true });
}

const EXIT_TAKEN_PREFIX = 'exit-taken.';

/**
 * Validates a container name (RU-07): podman's character rule, at most 253 characters; one leading `/` is
 * dropped as podman does. EINVALID otherwise. Pure.
 */
export function validateName(name: string): string {
  const n = name.startsWith('/') ? name.slice(1) : name;
  if (n.length > NAME_MAX || !NAME_RE.test(n)) {
    throw new SkiffError('EINVALID', `invalid container name ${JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]* and be at most ${NAME_MAX} characters`);
  }
  return n;
}

/** A fresh random 64-hex container id. */
export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

const ADJ = ['admiring', 'agitated', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'boring', 'brave', 'busy', 'charming', 'clever', 'cool', 'compassionate', 'competent', 'confident', 'crazy', 'dazzling', 'determined', 'distracted', 'dreamy', 'eager', 'ecstatic', 'elastic', 'elated', 'elegant', 'eloquent', 'epic', 'exciting', 'fervent', 'festive', 'flamboyant', 'focused', 'friendly', 'frosty', 'funny', 'gallant', 'gifted', 'goofy', 'gracious', 'great', 'happy', 'hardcore', 'heuristic', 'hopeful', 'hungry', 'infallible', 'inspiring', 'intelligent', 'interesting', 'jolly', 'jovial', 'keen', 'kind', 'laughing', 'loving', 'lucid', 'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty', 'nostalgic', 'objective', 'optimistic', 'peaceful', 'pedantic', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical', 'recursing', 'relaxed', 'reverent', 'romantic', 'sad', 'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'strange', 'stupefied', 'suspicious', 'sweet', 'tender', 'thirsty', 'trusting', 'unruffled', 'upbeat', 'vibrant', 'vigilant', 'vigorous', 'wizardly', 'wonderful', 'xenodochial', 'youthful', 'zealous', 'zen'];
const NOUN = ['albattani', 'allen', 'almeida', 'archimedes', 'ardinghelli', 'babbage', 'banach', 'bardeen', 'bartik', 'bell', 'benz', 'bhabha', 'blackwell', 'bohr', 'booth', 'borg', 'bose', 'brahmagupta', 'brattain', 'brown', 'carson', 'chandrasekhar', 'clarke', 'colden', 'cori', 'cray', 'curie', 'darwin', 'davinci', 'dijkstra', 'dubinsky', 'easley', 'einstein', 'elion', 'engelbart', 'euclid', 'euler', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo', 'gates', 'goldberg', 'goldstine', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hermann', 'hodgkin', 'hoover', 'hopper', 'hugle', 'hypatia', 'jackson', 'jang', 'jennings', 'jepsen', 'johnson', 'joliot', 'jones', 'kalam', 'kare', 'keller', 'kepler', 'khorana', 'kilby', 'kirch', 'knuth', 'kowalevski', 'lalande', 'lamarr', 'lamport', 'leakey', 'leavitt', 'lewin', 'lichterman', 'liskov', 'lovelace', 'lumiere', 'mahavira', 'mayer', 'mccarthy', 'mcclintock', 'mclean', 'meitner', 'mendel', 'merkle', 'mestorf', 'mirzakhani', 'morse', 'murdock', 'napier', 'nash', 'neumann', 'newton', 'nobel', 'noether', 'northcutt', 'noyce', 'panini', 'pare', 'pasteur', 'payne', 'perlman', 'pike', 'poincare', 'poitras', 'ptolemy', 'raman', 'ramanujan', 'ride', 'ritchie', 'roentgen', 'rosalind', 'saha', 'sammet', 'shamir', 'shannon', 'shaw', 'shirley', 'shockley', 'sinoussi', 'snyder', 'spence', 'stallman', 'stonebraker', 'swanson', 'swartz', 'swirles', 'tesla', 'thompson', 'torvalds', 'turing', 'varahamihira', 'visvesvaraya', 'volhard', 'wescoff', 'williams', 'wilson', 'wing', 'wozniak', 'wright', 'yalow', 'yonath'];

/** A random adjective_noun name like podman's (uniqueness is checked by reserveName). */
export function generateName(): string {
  const b = randomBytes(4);
  return `${ADJ[b.readUInt16BE(0) % ADJ.length]}_${NOUN[b.readUInt16BE(2) % NOUN.length]}`;
}

function namesDir(root: string): string {
  return join(storePaths(root).containers, 'names');
}

/** Reserves `name` for `id` atomically (O_EXCL); EEXIST naming the owner when taken. */
export async function reserveName(root: string, name: string, id: string): Promise<void> {
  await reserveNameFile(namesDir(root), validateName(name), checkId(id), {
    ownerExists: (owner) => (ID_RE.test(owner) ? readFile(containerPaths(root, owner).record).then(() => true, () => false) : Promise.resolve(false)),
    inUse: (owner) => new SkiffError('EEXIST', owner
      ? `the container name "${name}" is already in use by ${owner}. You have to remove that container to be able to reuse that name: that name is already in use`
      : `the container name "${name}" is already in use`),
  });
}

/** Releases `name` if it is held by `id`. Idempotent. */
export async function releaseName(root: string, name: string, id: string): Promise<void> {
  await releaseNameFile(namesDir(root), validateName(name), id);
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Loads container `id` (undefined when it does not exist or is half-created without a record). */
export async function loadById(root: string, id: string): Promise<LoadedContainer | undefined> {
  const p = containerPaths(root, id);
  const record = await readJson<ContainerRecord>(p.record);
  if (!record) return undefined;
  const state = (await readJson<ContainerState>(p.state)) ?? initialState();
  return { record, state };
}

/** The state of a just-created container. */
export function initialState(): ContainerState {
  return { status: 'created', pid: 0, monitorPid: 0, exitCode: 0, startedAt: '', finishedAt: '', restartCount: 0, stoppedByUser: false, mounted: false };
}

/** Every container of the store, oldest first (unreadable or half-created entries are skipped). */
export async function listContainers(root: string): Promise<LoadedContainer[]> {
  const dir = storePaths(root).containers;
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: LoadedContainer[] = [];
  for (const n of names) {
    if (!ID_RE.test(n)) continue;
    const c = await loadById(root, n);
    if (c) out.push(c);
  }
  return out.sort((a, b) => compareTimestamps(a.record.created, b.record.created));
}

/**
 * Finds a container as podman does: exact name, then full id, then unique id prefix. ENOTFOUND "no container
 * with name or ID X found"; EINVALID when a prefix is ambiguous.
 */
export async function loadContainer(root: string, nameOrId: string): Promise<LoadedContainer> {
  const key = nameOrId.startsWith('/') ? nameOrId.slice(1) : nameOrId;
  if (NAME_RE.test(key) && key.length <= NAME_MAX) {
    const owner = (await readFile(nameFileOf(namesDir(root), key), 'utf8').catch(() => '')).trim();
    if (ID_RE.test(owner)) {
      const c = await loadById(root, owner);
      if (c && c.record.name === key) return c;
    }
  }
  if (ID_RE.test(key)) {
    const c = await loadById(root, key);
    if (c) return c;
  }
  if (/^[0-9a-f]{1,63}$/.test(key)) {
    const dir = storePaths(root).containers;
    const hits = (await readdir(dir).catch(() => [] as string[])).filter((n) => ID_RE.test(n) && n.startsWith(key));
    if (hits.length > 1) throw new SkiffError('EINVALID', `more than one result for container ID ${key}: ambiguous`);
    if (hits.length === 1) {
      const c = await loadById(root, hits[0]!);
      if (c) return c;
    }
  }
  throw new SkiffError('ENOTFOUND', `no container with name or ID "${nameOrId}" found: no such container`);
}

/** Atomically rewrites the state of container `id` (0600). */
export async function saveState(root: string, id: string, state: ContainerState): Promise<void> {
  await writeFileAtomic(containerPaths(root, id).state, JSON.stringify(state), 0o600);
}

/** Writes the record of container `id` (0600); done once at create. */
export async function saveRecord(root: string, record: ContainerRecord): Promise<void> {
  await writeFileAtomic(containerPaths(root, record.id).record, JSON.stringify(record, null, 1), 0o600);
}

/** Takes the container's exclusive lock (a kernel lock, shared/store/lock.ts; freed if this process dies). Never hold it while waiting for an exit. */
export async function lockContainer(root: string, id: string, o: { wait?: boolean | number; signal?: AbortSignal } = {}): Promise<LockHandle> {
  try {
    return await acquireLock(containerPaths(root, id).lock, o);
  } catch (e) {
    // the directory is gone (removed, or being removed: removeContainerDir renamed it away): no such container
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e instanceof SkiffError && e.code === 'ENOTFOUND')) {
      throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`, { cause: e });
    }
    throw e;
  }
}

const TRASH_PREFIX = '.removing-';

/**
 * Deletes container `id`'s directory, race-free against every late party (the monitor's exit command, a second
 * `rm`, a health check) and idempotent. The directory is first renamed to a private trash name in one atomic
 * step: from then on `containers/<id>/lock` can no longer be created by anyone (lockContainer fails ENOTFOUND
 * instead of recreating the lock file inside a directory being deleted, which made the deletion fail ENOTEMPTY),
 * and nobody else knows the new name. The trash is then deleted with retries; debris left by an earlier
 * interrupted removal is swept too. A directory already gone is done, not an error.
 */
export async function removeContainerDir(root: string, id: string): Promise<void> {
  const p = containerPaths(root, id);
  const base = storePaths(root).containers;
  const trash = join(base, `${TRASH_PREFIX}${id}-${randomBytes(4).toString('hex')}`);
  try {
    await rename(p.dir, trash);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const names = await readdir(base).catch(() => [] as string[]);
  for (const n of names) {
    if (!n.startsWith(TRASH_PREFIX)) continue;
    const t = join(base, n);
    await rm(t, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 }).catch((e: unknown) => {
      // another removal's trash still being written by its monitor: left for the next removal's sweep
      if (t === trash) throw e;
    });
  }
}

/**
 * Read-modify-write of the state under the container lock; `fn` returns the new state (or undefined to
 * leave it). Returns what was saved (or the unchanged state). ENOTFOUND when the container is gone.
 */
export async function updateState(root: string, id: string, fn: (s: ContainerState, r: ContainerRecord) => ContainerState | undefined | Promise<ContainerState | undefined>): Promise<ContainerState> {
  const lock = await lockContainer(root, id);
  try {
    const c = await loadById(root, id);
    if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
    const next = await fn(c.state, c.record);
    if (next) await saveState(root, id, next);
    return next ?? c.state;
  } finally {
    await lock.release();
  }
}
