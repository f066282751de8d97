/**
 * Crash safety for builds (BU-17). Every build owns a state directory `<root>/build/<id>/` holding its bundles,
 * stage mounts, secrets and downloads, a `lock` file it holds (a kernel lock, freed when the process dies) and a
 * `containers/` directory naming each runc container before it is created. Two mechanisms clean up:
 *   - a watchdog: a tiny shell in its own session reading a pipe from the builder. If the builder dies (even by
 *     SIGKILL) the pipe closes and the watchdog kills and deletes the build's containers, unmounts everything
 *     under the state dir (deepest first) and removes it — so no RUN is left writing.
 *   - reclaimBuilds(): every build (and prune) first removes state dirs whose lock is free, the same way.
 * RUN network namespaces (run-network.ts) are named in `netns/` before they are made: the watchdog deletes those
 * namespaces (their veth goes with them), and cleanBuildDir/reclaimBuilds detach every attachment record the build
 * owns (`owner: build:<id>` under `<root>/networks/attachments`, which outlives the state dir): `netavark teardown`
 * of its firewall rules and bridge, and the release of its IP address.
 * No image is tagged before the final commit, so a killed build never leaves a name pointing at a partial image.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { acquireLock, isLockFree, type LockHandle } from '../../store/lock.ts';
import { networkPaths } from '../../network/network-config.ts';
import { requireProgram } from '../../process/system-programs.ts';
import { isRootless } from '../../runtime/rootless.ts';
import type { Runc } from '../../runtime/runc.ts';

const WATCHDOG = `read x
[ "$x" = ok ] && exit 0
d="$1"; runc="$2"; rr="$3"; ip="$4"
for f in "$d"/containers/*; do
  [ -e "$f" ] || continue
  id=\${f##*/}
  "$runc" --root "$rr" kill "$id" KILL >/dev/null 2>&1
  "$runc" --root "$rr" delete --force "$id" >/dev/null 2>&1
done
for f in "$d"/netns/*; do
  [ -e "$f" ] || continue
  "$ip" netns delete "skiff-\${f##*/}" >/dev/null 2>&1
done
awk -v d="$d/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
rm -rf "$d"
`;

/** The directory holding every build's state dir. */
export function buildsRoot(storeRoot: string): string {
  return join(storeRoot, 'build');
}

async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const un = (s: string) => s.replace(/\\([0-7]{3})/gu, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split('\n')
    .map((l) => un(l.split(' ')[4] ?? ''))
    .filter((m) => m.startsWith(`${dir}/`))
    .sort()
    .reverse();
}

/** The attachment owner string of build `id` (NetworkPlan.owner). Pure. */
export function buildNetworkOwner(id: string): string {
  return `build:${id}`;
}

/** Detaches every network attachment `owner` holds in the store (RUN namespaces a dead build left). Idempotent. */
async function detachOwned(storeRoot: string, owner: string): Promise<void> {
  const { detachNetwork, listAttachments } = await import('../../network/attach.ts');
  for (const rec of await listAttachments(storeRoot)) {
    if (rec.owner === owner) await detachNetwork(rec.containerId, undefined, { root: storeRoot, rootless: isRootless() }).catch(() => {});
  }
}

/**
 * Deletes the recorded containers, detaches the build's RUN networks, unmounts everything under `dir` (the state
 * dir of build `basename(dir)` in `storeRoot`) and removes it. Idempotent.
 */
export async function cleanBuildDir(dir: string, runc: Runc, storeRoot: string): Promise<void> {
  const ids = await readdir(join(dir, 'containers')).catch(() => [] as string[]);
  for (const id of ids) {
    await runc.kill(id, 'KILL').catch(() => {});
    await runc.delete(id, { force: true }).catch(() => {});
  }
  await detachOwned(storeRoot, buildNetworkOwner(basename(dir)));
  const { unmount } = await import('../../layer/unpack-cache.ts');
  for (const m of await mountsUnder(dir)) await unmount(m).catch(() => unmount(m, { lazy: true }).catch(() => {}));
  await rm(dir, { recursive: true, force: true });
}

/**
 * Removes the state dirs of builds whose process is gone (lock free; a dir with no lock file yet is being made
 * and is left alone), and detaches the RUN networks of builds
 * whose state dir is already gone (the watchdog removed it). Returns the ids of the state dirs reclaimed. `runc` may
 * be a factory, called only when there is a state dir to clean.
 */
export async function reclaimBuilds(storeRoot: string, runc: Runc | (() => Promise<Runc>)): Promise<string[]> {
  const root = buildsRoot(storeRoot);
  const out: string[] = [];
  for (const id of await readdir(root).catch(() => [] as string[])) {
    const dir = join(root, id);
    // no lock file yet: a build making its state dir right now (BuildDir.create takes the lock before anything
    // goes in): never reclaimed (another platform of one build runs this while its sibling starts)
    if ((await lstat(join(dir, 'lock')).catch(() => undefined)) === undefined) continue;
    if (!(await isLockFree(join(dir, 'lock')).catch(() => true))) continue;
    await cleanBuildDir(dir, typeof runc === 'function' ? await runc() : runc, storeRoot);
    out.push(id);
  }
  // no attachment records (every build without a RUN network, every cached one): the network code never loads
  if ((await readdir(networkPaths(storeRoot).attachments).catch(() => [] as string[])).length === 0) return out;
  const { listAttachments } = await import('../../network/attach.ts');
  const live = new Set(await readdir(root).catch(() => [] as string[]));
  const owners = new Set((await listAttachments(storeRoot)).map((r) => r.owner).filter((o): o is string => o?.startsWith('build:') === true));
  for (const owner of owners) if (!live.has(owner.slice('build:'.length))) await detachOwned(storeRoot, owner);
  return out;
}

/** One build's state dir; see the module comment. Call close() when the build ends (success or failure). */
export class BuildDir {
  readonly id: string;
  readonly dir: string;
  readonly runc: Runc;
  /** the store root the build runs in (networking state lives under it) */
  readonly storeRoot: string;
  #lock: LockHandle;
  #watchdog: ChildProcess;
  #n = 0;

  private constructor(id: string, dir: string, runc: Runc, storeRoot: string, lock: LockHandle, watchdog: ChildProcess) {
    this.id = id;
    this.dir = dir;
    this.runc = runc;
    this.storeRoot = storeRoot;
    this.#lock = lock;
    this.#watchdog = watchdog;
  }

  /** Creates the state dir, takes its lock and starts the watchdog. */
  static async create(storeRoot: string, runc: Runc): Promise<BuildDir> {
    const id = randomBytes(8).toString('hex');
    const dir = join(buildsRoot(storeRoot), id);
    // the lock first, so that a reclaim never finds this dir holding something with its lock free
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const lock = await acquireLock(join(dir, 'lock'), { wait: false });
    await mkdir(join(dir, 'containers'), { mode: 0o700 });
    await mkdir(join(dir, 'netns'), { mode: 0o700 });
    let ip = 'ip';
    try {
      ip = requireProgram('ip');
    } catch {
      // no iproute2: no RUN namespace can have been made through it either
    }
    const wd = spawn('sh', ['-c', WATCHDOG, 'skiff-build-watchdog', dir, runc.path, runc.root, ip], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    wd.on('error', () => {});
    wd.stdin?.on('error', () => {});
    wd.unref();
    (wd.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return new BuildDir(id, dir, runc, storeRoot, lock, wd);
  }

  /** A fresh path inside the state dir (not created). */
  path(prefix: string): string {
    return join(this.dir, `${prefix}${++this.#n}`);
  }

  /** A container id for this build, recorded before the container exists. */
  async containerId(): Promise<string> {
    const id = `skiff-build-${this.id}-${++this.#n}`;
    await writeFile(join(this.dir, 'containers', id), '');
    return id;
  }

  /** Forgets a container that was deleted. */
  async forgetContainer(id: string): Promise<void> {
    await rm(join(this.dir, 'containers', id), { force: true });
  }

  /** Names a RUN network namespace (64-hex sandbox id) before it is made, for the watchdog. */
  async noteNetwork(id: string): Promise<void> {
    await writeFile(join(this.dir, 'netns', id), '');
  }

  /** Forgets a RUN network namespace that was torn down. */
  async forgetNetwork(id: string): Promise<void> {
    await rm(join(this.dir, 'netns', id), { force: true });
  }

  /** Cleans everything up and stops the watchdog. Idempotent. */
  async close(): Promise<void> {
    await cleanBuildDir(this.dir, this.runc, this.storeRoot);
    this.#watchdog.stdin?.end('ok\n');
    await this.#lock.release().catch(() => {});
  }
}
