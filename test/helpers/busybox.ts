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

/** Makes (once per dir) a busybox root filesystem tarball in `dir` and returns its path. */
export function busyboxTarball(dir: string): string {
  const tar = join(dir, 'busybox-rootfs.tar');
  if (existsSync(tar)) return tar;
  const rootfs = join(dir, 'busybox-rootfs');
  execFileSync('bash', [join(repo, 'scripts/make-busybox-rootfs.sh'), rootfs]);
  execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', tar, '.']);
  return tar;
}

/** Imports a busybox base image into the store at `root` under `name` (full form); returns its manifest digest and ID. */
export async function makeBusyboxImage(root: string, scratch: string, name = 'localhost/busybox:latest'): Promise<{ digest: string; id: string }> {
  const store = await openStore(root, { create: true });
  try {
    const r = await importTarball(store, busyboxTarball(scratch), { name, created: new Date('2026-01-01T00:00:00Z') });
    return { digest: r.descriptor.digest, id: r.id };
  } finally {
    await store.close();
  }
}
