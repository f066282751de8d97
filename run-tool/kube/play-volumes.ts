// The host side of a played pod's volumes: hostPath type checks (and the OrCreate kinds), the files of ConfigMap
// and Secret volumes, and each container's mounts and named volumes for its volumeMounts.
import { lstat, mkdir, open, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SkiffError } from '../../shared/errors.ts';
import type { PlayContainer, PlayPod, PlayVolume } from '../../shared/kube/play.ts';
import type { MountRequest } from '../../shared/runtime/mounts.ts';

/** Where the files of pod `pod`'s ConfigMap and Secret volumes live in store `root`. */
export function kubeFilesDir(root: string, pod: string): string {
  return join(root, 'kube', pod);
}

/** The named volume an emptyDir `vol` of pod `pod` becomes (removed with the pod by `kube down`). */
export function emptyDirVolume(pod: string, vol: string): string {
  return `${pod}-${vol}`;
}

const CHECK: Record<string, (s: import('node:fs').Stats) => boolean> = {
  Directory: (s) => s.isDirectory(),
  File: (s) => s.isFile(),
  Socket: (s) => s.isSocket(),
  CharDevice: (s) => s.isCharacterDevice(),
  BlockDevice: (s) => s.isBlockDevice(),
};

/**
 * Checks every hostPath volume of `pods` against its type before anything is made: EINVALID naming the document
 * and field for a missing or mistyped path. Creates nothing (the OrCreate kinds are made by prepareHostPaths).
 */
export async function checkHostPaths(pods: readonly PlayPod[]): Promise<void> {
  for (const p of pods) {
    for (const v of Object.values(p.volumes)) {
      if (v.kind !== 'hostPath') continue;
      const st = await lstat(v.path).catch(() => undefined);
      const want = v.type === 'DirectoryOrCreate' ? 'Directory' : v.type === 'FileOrCreate' ? 'File' : v.type;
      if (!st) {
        if (v.type === 'DirectoryOrCreate' || v.type === 'FileOrCreate') continue;
        throw new SkiffError('EINVALID', `${p.doc}: ${v.field}.path: ${v.path} does not exist${v.type ? ` (type ${v.type})` : ''}`, { hint: 'create it first, or use type DirectoryOrCreate or FileOrCreate' });
      }
      if (want !== '' && !CHECK[want]!(st)) throw new SkiffError('EINVALID', `${p.doc}: ${v.field}.path: ${v.path} is not a ${want === 'CharDevice' ? 'character device' : want === 'BlockDevice' ? 'block device' : want.toLowerCase()} (type ${v.type})`);
    }
  }
}

/** Makes the missing paths of DirectoryOrCreate (0755) and FileOrCreate (0644, empty) volumes of `pod`. */
export async function prepareHostPaths(pod: PlayPod): Promise<void> {
  for (const v of Object.values(pod.volumes)) {
    if (v.kind !== 'hostPath') continue;
    if (v.type === 'DirectoryOrCreate') await mkdir(v.path, { recursive: true, mode: 0o755 });
    if (v.type === 'FileOrCreate') {
      await mkdir(dirname(v.path), { recursive: true, mode: 0o755 });
      await (await open(v.path, 'a', 0o644)).close();
    }
  }
}

/** Writes the files of `pod`'s ConfigMap and Secret volumes under kubeFilesDir (Secrets 0400, ConfigMaps 0444). */
export async function writeVolumeFiles(root: string, pod: PlayPod): Promise<void> {
  const base = kubeFilesDir(root, pod.name);
  await rm(base, { recursive: true, force: true });
  for (const [name, v] of Object.entries(pod.volumes)) {
    if (v.kind !== 'files') continue;
    const dir = join(base, name);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    for (const [rel, data] of Object.entries(v.files)) {
      await mkdir(dirname(join(dir, rel)), { recursive: true, mode: 0o755 });
      await writeFile(join(dir, rel), data, { mode: v.source === 'secret' ? 0o400 : 0o444 });
    }
  }
}

/** The bind and tmpfs mounts and the named volumes container `c` of `pod` gets for its volumeMounts. Pure. */
export function containerMounts(root: string, pod: PlayPod, c: PlayContainer): { mounts: MountRequest[]; volumes: { name: string; destination: string; options: string[] }[] } {
  const mounts: MountRequest[] = [];
  const volumes: { name: string; destination: string; options: string[] }[] = [];
  for (const m of c.mounts) {
    const v: PlayVolume = pod.volumes[m.volume]!;
    const ro = m.readOnly ? ['ro'] : [];
    if (v.kind === 'hostPath') mounts.push({ type: 'bind', source: v.path, destination: m.destination, options: ro });
    else if (v.kind === 'emptyDir' && v.memory) mounts.push({ type: 'tmpfs', destination: m.destination });
    else if (v.kind === 'emptyDir') volumes.push({ name: emptyDirVolume(pod.name, m.volume), destination: m.destination, options: ro });
    else if (v.kind === 'claim') volumes.push({ name: v.claim, destination: m.destination, options: ro });
    else mounts.push({ type: 'bind', source: join(kubeFilesDir(root, pod.name), m.volume), destination: m.destination, options: ['ro'] });
  }
  return { mounts, volumes };
}
