import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openStore } from '../../shared/store/store.ts';
import { importTarball } from '../../shared/transport/tarball.ts';

const repo = resolve(import.meta.dirname, '../..');

/** True when busybox (busybox-static) is installed, so base images can be made offline. */
export const hasBusybox = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v busybox'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * The static busybox for a foreign Debian architecture (e.g. arm64) that scripts/ensure-foreign-busybox.sh put in
 * .cache/foreign/ARCH, or undefined when the set-up has not fetched it.
 */
export function foreignBusybox(arch: string): string | undefined {
  const p = join(repo, '.cache/foreign', arch, 'busybox');
  return existsSync(p) ? p : undefined;
}

/**
 * Makes (once per dir and arch) a busybox root filesystem tarball in `dir` and returns its path; `arch` (a Debian
 * architecture other than the host's) takes that architecture's busybox from foreignBusybox (throws when absent).
 */
export function busyboxTarball(dir: string, arch?: string): string {
  const tar = join(dir, arch === undefined ? 'busybox-rootfs.tar' : `busybox-rootfs-${arch}.tar`);
  if (existsSync(tar)) return tar;
  const rootfs = join(dir, arch === undefined ? 'busybox-rootfs' : `busybox-rootfs-${arch}`);
  const bin = arch === undefined ? undefined : foreignBusybox(arch);
  if (arch !== undefined && bin === undefined) throw new Error(`no ${arch} busybox: run (as root) bash scripts/ensure-foreign-busybox.sh ${arch}`);
  execFileSync('bash', [join(repo, 'scripts/make-busybox-rootfs.sh'), rootfs, ...(bin === undefined ? [] : [bin])]);
  execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', tar, '.']);
  return tar;
}

/**
 * Imports a busybox base image into the store at `root` under `name` (full form); returns its manifest digest and
 * ID. `arch` (an OCI architecture, e.g. arm64) makes that architecture's image (its config says linux/ARCH).
 */
export async function makeBusyboxImage(root: string, scratch: string, name = 'localhost/busybox:latest', arch?: string): Promise<{ digest: string; id: string }> {
  const store = await openStore(root, { create: true });
  try {
    const r = await importTarball(store, busyboxTarball(scratch, arch), { name, created: new Date('2026-01-01T00:00:00Z'), ...(arch !== undefined && { platform: { os: 'linux', architecture: arch } }) });
    return { digest: r.descriptor.digest, id: r.id };
  } finally {
    await store.close();
  }
}
