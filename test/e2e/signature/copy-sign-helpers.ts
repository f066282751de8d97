// Helpers for the signing end-to-end tests: a small one-layer OCI layout, policy files, registries.d files,
// run-tool / build-tool runners, and podman pointed at a scratch store.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { digestOf } from '../../../shared/oci/digest.ts';

const repo = resolve(import.meta.dirname, '../../..');
export const RUN_TOOL = join(repo, 'bin', 'run-tool.mjs');
export const BUILD_TOOL = join(repo, 'bin', 'build-tool.mjs');

/** Runs a built skiff CLI with the running Node. */
export function tool(bundle: string, args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

/** Writes an OCI layout at `dir` holding one image (one gzip layer with `hello.txt` = `text`) tagged `tag`. */
export function makeOciLayout(dir: string, text: string, tag = 'latest'): void {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  const src = join(dir, '..', `.content-${Math.random().toString(36).slice(2)}`);
  mkdirSync(src);
  writeFileSync(join(src, 'hello.txt'), text);
  const tar = execFileSync('tar', ['-C', src, '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', '-', 'hello.txt']);
  const gz = gzipSync(tar);
  const put = (b: Uint8Array | string) => {
    const d = digestOf(b);
    writeFileSync(join(dir, 'blobs/sha256', d.slice(7)), b);
    return { digest: d, size: Buffer.byteLength(b) };
  };
  const layer = put(gz);
  const cfg = put(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(tar)] }, config: { Cmd: ['/hello'] } }));
  const m = put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  );
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
}

/** A policy.json: `docker` scopes as given, every local transport accepted (they are the sources we sign from). */
export function writePolicy(path: string, docker: Record<string, unknown[]>, o: { defaultReject?: boolean } = {}): string {
  const any = [{ type: 'insecureAcceptAnything' }];
  writeFileSync(
    path,
    JSON.stringify({
      default: o.defaultReject === false ? any : [{ type: 'reject' }],
      transports: { docker, oci: { '': any }, dir: { '': any }, 'docker-archive': { '': any } },
    }),
  );
  return path;
}

/** signedBy requirement with a key file. */
export const signedBy = (keyPath: string, signedIdentity?: unknown) => ({ type: 'signedBy', keyType: 'GPGKeys', keyPath, ...(signedIdentity ? { signedIdentity } : {}) });
/** sigstoreSigned requirement with a key file. */
export const sigstoreSigned = (keyPath: string, signedIdentity?: unknown) => ({ type: 'sigstoreSigned', keyPath, ...(signedIdentity ? { signedIdentity } : {}) });

/** podman with a scratch store (vfs) under `dir`. */
export function podman(dir: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync('podman', ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', ...args], { encoding: 'utf8', timeout: 120_000 });
}

export const hasPodman = spawnSync('sh', ['-c', 'command -v podman'], { stdio: 'ignore' }).status === 0;
export const hasGpg = spawnSync('sh', ['-c', 'command -v gpg'], { stdio: 'ignore' }).status === 0;
