/**
 * Named volumes (podman's `local` driver): `<root>/volumes/<name>/` (0700) holding `volume.json` (what the volume
 * is) and `_data/` (its content, bind-mounted into containers). Names are validated against podman's grammar
 * `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (at most 253 characters), so a name is a single safe path component (never `.`,
 * `..` or containing `/`). A volume is created in a temp dir and renamed into place, so it either exists
 * completely or not at all; create/remove/copy-up run under `<root>/locks/volumes.lock`.
 */
import { randomBytes } from 'node:crypto';
import { chown, lstat, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, type Cancellable } from '../../shared/errors.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { withLock } from '../../shared/store/lock.ts';
import { storePaths } from '../../shared/store/paths.ts';
import { runProgram } from '../../shared/process/run.ts';
import { resolveInRoot } from '../../shared/runtime/in-root.ts';
import { cleanContainerPath, type MountRequest } from '../../shared/runtime/mounts.ts';
import { listContainers } from './state.ts';
import { recordEvent } from './record-event.ts';

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const NAME_MAX = 253;

/** podman's `volume inspect` document. */
export interface VolumeInfo {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  Options: Record<string, string>;
  MountCount: number;
  NeedsCopyUp: boolean;
  NeedsChown: boolean;
}

/** Validates a volume name (EINVALID with podman's message otherwise). Pure. */
export function validateVolumeName(name: string): string {
  if (name.length > NAME_MAX || !NAME_RE.test(name)) {
    throw new SkiffError('EINVALID', `running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument`, {
      details: { name: name.slice(0, 80) },
    });
  }
  return name;
}

/** The volumes dir of a store root. Pure. */
export function volumesDir(root: string): string {
  return join(storePaths(root).root, 'volumes');
}

/** Paths of volume `name` (validated). Pure. */
export function volumePaths(root: string, name: string): { dir: string; meta: string; data: string } {
  const dir = join(volumesDir(root), validateVolumeName(name));
  return { dir, meta: join(dir, 'volume.json'), data: join(dir, '_data') };
}

function lockPath(root: string): string {
  return join(storePaths(root).locks, 'volumes.lock');
}

async function withVolumesLock<T>(root: string, fn: () => Promise<T>, o: Cancellable = {}): Promise<T> {
  await mkdir(storePaths(root).locks, { recursive: true, mode: 0o700 });
  return withLock(lockPath(root), o.signal ? { signal: o.signal } : {}, fn);
}

async function readInfo(root: string, name: string): Promise<VolumeInfo | undefined> {
  const p = volumePaths(root, name);
  let text: string;
  try {
    text = await readFile(p.meta, 'utf8');
  } catch {
    return undefined;
  }
  const v = JSON.parse(text) as VolumeInfo;
  return { ...v, Name: name, Mountpoint: p.data, Driver: 'local', Scope: 'local' };
}

/** Options a `local` volume accepts: `o=uid=N,gid=N` (owner of `_data`). Others are EUNSUPPORTED. */
function parseOwner(options: Record<string, string>): { uid?: number; gid?: number } {
  const out: { uid?: number; gid?: number } = {};
  for (const [k, v] of Object.entries(options)) {
    if (k !== 'o') throw new SkiffError('EUNSUPPORTED', `volume option ${k} is not supported: only o=uid=N,gid=N`);
    for (const part of v.split(',')) {
      const m = /^(uid|gid)=(\d{1,10})$/.exec(part);
      if (!m) throw new SkiffError('EUNSUPPORTED', `volume mount option ${JSON.stringify(part)} is not supported: only uid=N and gid=N`);
      out[m[1] as 'uid' | 'gid'] = Number(m[2]);
    }
  }
  return out;
}

/**
 * Creates volume `name` atomically (temp dir + rename). EEXIST when it exists, unless `ignoreExisting`, which
 * returns the existing one (podman's `--ignore`). Labels and options are recorded; `o=uid=N,gid=N` sets the
 * owner of `_data`.
 */
export async function createVolume(
  root: string,
  name: string,
  o: { labels?: Record<string, string>; options?: Record<string, string>; ignoreExisting?: boolean; signal?: AbortSignal } = {},
): Promise<VolumeInfo> {
  const p = volumePaths(root, name);
  const options = o.options ?? {};
  const owner = parseOwner(options);
  return withVolumesLock(
    root,
    async () => {
      const existing = await readInfo(root, name);
      if (existing) {
        if (o.ignoreExisting) return existing;
        throw new SkiffError('EEXIST', `volume with name ${name} already exists: volume already exists`);
      }
      await mkdir(volumesDir(root), { recursive: true, mode: 0o700 });
      await rm(p.dir, { recursive: true, force: true }); // debris without volume.json
      const tmp = join(volumesDir(root), `.tmp-${randomBytes(6).toString('hex')}`);
      await mkdir(tmp, { mode: 0o700 });
      try {
        await mkdir(join(tmp, '_data'), { mode: 0o755 });
        if (owner.uid !== undefined || owner.gid !== undefined) await chown(join(tmp, '_data'), owner.uid ?? 0, owner.gid ?? 0);
        const info: VolumeInfo = {
          Name: name,
          Driver: 'local',
          Mountpoint: p.data,
          CreatedAt: new Date().toISOString(),
          Labels: { ...(o.labels ?? {}) },
          Scope: 'local',
          Options: { ...options },
          MountCount: 0,
          NeedsCopyUp: true,
          NeedsChown: true,
        };
        await writeFileAtomic(join(tmp, 'volume.json'), JSON.stringify(info), 0o600);
        await rename(tmp, p.dir);
        recordEvent(root, 'volume', 'create', name);
        return info;
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
    },
    o,
  );
}

/** Every volume, sorted by name (half-created debris is skipped). */
export async function listVolumes(root: string): Promise<VolumeInfo[]> {
  const names = await readdir(volumesDir(root)).catch(() => [] as string[]);
  const out: VolumeInfo[] = [];
  for (const n of names.sort()) {
    if (!NAME_RE.test(n) || n.length > NAME_MAX) continue;
    const v = await readInfo(root, n);
    if (v) out.push(v);
  }
  return out;
}

/** Volume `name`; ENOTFOUND with podman's message when absent. */
export async function inspectVolume(root: string, name: string): Promise<VolumeInfo> {
  const v = await readInfo(root, validateVolumeName(name));
  if (!v) throw new SkiffError('ENOTFOUND', `no volume with name "${name}" found: no such volume`);
  return v;
}

/** Names of volumes used by containers, with the ids of the containers using each. */
export async function volumeUsers(root: string): Promise<Map<string, string[]>> {
  const users = new Map<string, string[]>();
  for (const c of await listContainers(root)) {
    for (const v of c.record.volumes ?? []) users.set(v.name, [...(users.get(v.name) ?? []), c.record.id]);
  }
  return users;
}

/**
 * Removes volume `name`. While containers use it: EINVALID naming them unless `removeContainers` is given
 * (`rm -f`), which is called for each first. The volume disappears atomically (renamed away, then deleted).
 */
export async function removeVolume(root: string, name: string, o: { removeContainers?: (ids: string[]) => Promise<void>; signal?: AbortSignal } = {}): Promise<void> {
  await inspectVolume(root, name);
  const users = (await volumeUsers(root)).get(name) ?? [];
  if (users.length > 0) {
    if (!o.removeContainers) {
      throw new SkiffError('EINVALID', `volume ${name} is being used by the following container(s): ${users.join(', ')}: volume is being used`);
    }
    await o.removeContainers(users);
  }
  const p = volumePaths(root, name);
  await withVolumesLock(
    root,
    async () => {
      const gone = join(volumesDir(root), `.tmp-rm-${randomBytes(6).toString('hex')}`);
      try {
        await rename(p.dir, gone);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new SkiffError('ENOTFOUND', `no volume with name "${name}" found: no such volume`);
        throw e;
      }
      await rm(gone, { recursive: true, force: true });
      recordEvent(root, 'volume', 'remove', name);
    },
    o,
  );
}

/** Removes every volume no container uses (optionally only those whose labels match `labels`); returns their names. */
export async function pruneVolumes(root: string, o: { labels?: Record<string, string | undefined>; signal?: AbortSignal } = {}): Promise<string[]> {
  const users = await volumeUsers(root);
  const removed: string[] = [];
  for (const v of await listVolumes(root)) {
    if (users.has(v.Name)) continue;
    if (o.labels && !Object.entries(o.labels).every(([k, val]) => k in v.Labels && (val === undefined || v.Labels[k] === val))) continue;
    await removeVolume(root, v.Name, o.signal ? { signal: o.signal } : {}).catch(() => {});
    if (!(await readInfo(root, v.Name))) removed.push(v.Name);
  }
  return removed;
}

/** True when `spec`'s source is a volume name rather than a host path (podman: it does not start with `/` or `.`). */
export function isNamedVolumeSource(source: string): boolean {
  return !source.startsWith('/') && !source.startsWith('.') && source !== '';
}

/** What run/create needs to attach a named volume. */
export interface ResolvedVolume {
  /** the bind mount for the runtime spec */
  mount: MountRequest;
  /** what to record in the container (ContainerRecord.volumes) */
  volume: { name: string; destination: string; options: string[] };
}

/**
 * The hook for `run -v NAME:/path[:OPTS]` (and `--mount type=volume,src=NAME,dst=/path`): creates the volume on
 * first use; on its first mount copies the image's content at /path into the empty volume (podman's copy-up;
 * `rootfs` is the container's root — the path is resolved in it, never following links out — and nothing is
 * copied when it is absent or the volume is not empty); with `:U`, chowns the volume's content to
 * `user` (the container's uid/gid). `:z`/`:Z` are accepted as no-ops; `ro`/`rw` and the other mount flags pass
 * through to the bind mount. `:nocopy` skips the copy-up.
 */
export async function resolveVolumeMount(
  root: string,
  spec: string,
  o: { rootfs?: string; user?: { uid: number; gid: number }; signal?: AbortSignal } = {},
): Promise<ResolvedVolume> {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw new SkiffError('EINVALID', `invalid volume specification ${JSON.stringify(spec)}: expected NAME:/path[:OPTIONS]`);
  const name = validateVolumeName(parts[0]!);
  const destination = cleanContainerPath(parts[1]!, 'volume destination');
  const opts = parts[2] ? parts[2].split(',').filter((x) => x !== '') : [];
  const mountOpts: string[] = [];
  let chownToUser = false;
  let nocopy = false;
  for (const x of opts) {
    if (x === 'z' || x === 'Z') continue;
    if (x === 'U') chownToUser = true;
    else if (x === 'nocopy') nocopy = true;
    else if (x === 'copy') nocopy = false;
    else if (['ro', 'rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'].includes(x)) mountOpts.push(x);
    else throw new SkiffError('EINVALID', `invalid volume option ${JSON.stringify(x)} in ${JSON.stringify(spec)}`);
  }
  const info = await createVolume(root, name, { ignoreExisting: true, signal: o.signal });
  const p = volumePaths(root, name);
  await withVolumesLock(
    root,
    async () => {
      const current = (await readInfo(root, name)) ?? info;
      let changed = false;
      if (current.NeedsCopyUp && !nocopy) {
        if (o.rootfs && (await readdir(p.data)).length === 0) {
          const src = await resolveInRoot(o.rootfs, destination);
          const st = await lstat(src).catch(() => undefined);
          if (st?.isDirectory()) {
            const r = await runProgram('cp', ['-a', '--no-dereference', `${src}/.`, `${p.data}/`], { signal: o.signal });
            if (r.code !== 0) throw new SkiffError('EIO', `copying ${destination} of the image into volume ${name} failed: ${r.stderr.trim()}`);
          }
        }
        current.NeedsCopyUp = false;
        changed = true;
      }
      if (chownToUser && o.user) {
        const r = await runProgram('chown', ['-R', '--no-dereference', `${o.user.uid}:${o.user.gid}`, p.data], { signal: o.signal });
        if (r.code !== 0) throw new SkiffError('EIO', `chown of volume ${name} failed: ${r.stderr.trim()}`);
        current.NeedsChown = false;
        changed = true;
      }
      if (changed) await writeFileAtomic(p.meta, JSON.stringify(current), 0o600);
    },
    o,
  );
  return {
    mount: { type: 'bind', source: p.data, destination, options: ['rbind', ...mountOpts] },
    volume: { name, destination, options: opts },
  };
}
