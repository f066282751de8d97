// Differential-test helpers: build the same Dockerfile with Debian's buildah (1.28) in a scratch storage and with
// build-tool, unpack both results with the same code (shared/layer applyLayer) and describe them as plain data
// (file trees and config fields) so a test can compare them with one `toEqual`.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyLayer } from '../../../shared/layer/apply.ts';
import { decompress } from '../../../shared/layer/compression.ts';
import type { ImageConfig, Index, Manifest } from '../../../shared/oci/types.ts';

/** True when a buildah binary is on PATH. */
export const hasBuildah = spawnSync('sh', ['-c', 'command -v buildah && command -v skopeo'], { stdio: 'ignore' }).status === 0;

/** buildah with a private, scratch storage (vfs driver) so nothing touches the machine's default storage. */
export interface Buildah {
  args: string[];
  /** `buildah bud --layers -t NAME -f FILE CTX [extra]`, then `buildah push NAME oci:OUT:NAME`; returns OUT. */
  build(name: string, dockerfile: string, ctx: string, extra?: string[]): Promise<string>;
  /** stdout and stderr of the last `buildah bud` */
  last: { stdout: string; stderr: string };
}

/** Sets up buildah storage under `dir` and copies `localhost/busybox:latest` into it from skiff's store at `skiffRoot`. */
export function makeBuildah(dir: string, skiffRoot: string): Buildah {
  const root = join(dir, 'buildah-root');
  const runroot = join(dir, 'buildah-run');
  const args = ['--root', root, '--runroot', runroot, '--storage-driver', 'vfs'];
  execFileSync('skopeo', ['copy', '-q', `oci:${join(skiffRoot, 'images')}:localhost/busybox:latest`, `containers-storage:[vfs@${root}+${runroot}]localhost/busybox:latest`], { stdio: 'pipe' });
  let n = 0;
  const b: Buildah = {
    args,
    last: { stdout: '', stderr: '' },
    async build(name, dockerfile, ctx, extra = []) {
      const file = join(dir, `buildah-${++n}.Dockerfile`);
      await writeFile(file, dockerfile);
      // --isolation chroot would change RUN's environment; oci (runc) is buildah's default as root, like ours
      const r = spawnSync('buildah', [...args, 'bud', '--layers', '--format', 'oci', '-t', name, '-f', file, ...extra, ctx], { encoding: 'utf8', timeout: 120_000 });
      if (r.status !== 0) throw new Error(`buildah bud failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
      b.last = { stdout: r.stdout, stderr: r.stderr };
      const out = join(dir, `buildah-out-${n}`);
      execFileSync('buildah', [...args, 'push', '-q', name, `oci:${out}:${name}`], { stdio: 'pipe' });
      return out;
    },
  };
  return b;
}

/** An image read from an OCI layout: its config and its layers applied in order to `rootfs`. */
export interface Unpacked {
  manifest: Manifest;
  config: ImageConfig;
  rootfs: string;
}

/** Unpacks the image tagged `ref` (the ref-name annotation) in the OCI layout `layout` into `dest`. */
export async function unpackLayout(layout: string, ref: string, dest: string): Promise<Unpacked> {
  const blob = (d: string) => join(layout, 'blobs', 'sha256', d.slice('sha256:'.length));
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as Index;
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!desc) throw new Error(`${ref} not in ${layout}`);
  const manifest = JSON.parse(await readFile(blob(desc.digest), 'utf8')) as Manifest;
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as ImageConfig;
  await mkdir(dest, { recursive: true });
  for (const l of manifest.layers) {
    const { stream } = await decompress(createReadStream(blob(l.digest)));
    await applyLayer(dest, stream, { mode: 'merged', preserveOwnership: true });
  }
  return { manifest, config, rootfs: dest };
}

/** One entry of a file tree: type, permission bits (with setuid/setgid/sticky), owner, content digest or link target. */
export type TreeEntry = string;

/**
 * Describes every path under `root` as `type mode uid:gid detail` (detail: sha256 of a file's bytes, a symlink's
 * target, a device's numbers). Times are left out on purpose: buildah and build-tool stamp them differently.
 */
export async function describeTree(root: string, skip: (path: string) => boolean = () => false): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {};
  async function walk(dir: string, rel: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      if (skip(r)) continue;
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      const own = `${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        out[r] = `dir ${mode} ${own}`;
        await walk(p, r);
      } else if (st.isSymbolicLink()) out[r] = `link ${mode === '0777' ? '' : mode} ${own} -> ${await readlink(p)}`.replace('  ', ' ');
      else if (st.isFile()) out[r] = `file ${mode} ${own} ${createHash('sha256').update(await readFile(p)).digest('hex').slice(0, 16)}`;
      else out[r] = `other ${(st.mode >>> 12).toString(8)} ${mode} ${own} ${st.rdev}`;
    }
  }
  await walk(root, '');
  return out;
}

/** The config fields a differential test compares (docker/OCI names). */
export function configFields(c: ImageConfig): Record<string, unknown> {
  const cc = c.config ?? {};
  const labels = { ...(cc.Labels ?? {}) };
  // buildah stamps its own version into every image it builds
  delete labels['io.buildah.version'];
  const empty = (o: object | undefined) => (o && Object.keys(o).length > 0 ? o : undefined);
  return {
    Env: cc.Env ?? [],
    Cmd: cc.Cmd,
    Entrypoint: cc.Entrypoint,
    WorkingDir: cc.WorkingDir || undefined,
    User: cc.User || undefined,
    ExposedPorts: empty(cc.ExposedPorts),
    Labels: empty(labels),
    Volumes: empty(cc.Volumes),
    StopSignal: cc.StopSignal || undefined,
    layers: c.rootfs.diff_ids.length,
  };
}
