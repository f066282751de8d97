import { resolve } from 'node:path';
import { SkiffError } from '../../shared/errors.ts';
import { containersConf, type ContainersConf } from '../../shared/config/containers-conf.ts';
import { ociRuntime } from '../../shared/runtime/oci-runtime.ts';
import { isRootless } from '../../shared/runtime/rootless.ts';
import { ensurePrivateDir, Runc, runcRootFor } from '../../shared/runtime/runc.ts';

/*
 * What run-tool's container operations share to start programs: the one runc of this process, and how a monitor
 * or a health-check timer calls this program back.
 */

let runcCache: Runc | undefined;

/**
 * The OCI runtime (containers.conf's `runtime`, runc by default: ociRuntime) and its per-user state dir (RU-16:
 * 0700, owned by the caller), with runc's `--systemd-cgroup` when a root container's cgroup manager is systemd.
 */
export async function getRunc(): Promise<Runc> {
  if (runcCache) return runcCache;
  const root = process.env.SKIFF_RUNC_ROOT ?? runcRootFor();
  await ensurePrivateDir(root);
  // creation checked the configuration (checkEngineConf); a file gone or broken since must not keep a later stop or
  // the monitor's cleanup from reaching the container, so those fall back to the defaults
  let conf: ContainersConf = { files: [] };
  try {
    conf = containersConf();
  } catch {
    /* defaults */
  }
  runcCache = new Runc(ociRuntime(conf).path, root, { systemdCgroup: !isRootless() && conf.cgroupManager === 'systemd' });
  return runcCache;
}

/** How the exit command reaches this program: `node <script> --root ROOT container-cleanup --run TOKEN ID`. */
export function selfCommand(): string[] {
  const script = process.env.SKIFF_RUN_TOOL_SCRIPT ?? process.argv[1];
  if (!script) throw new SkiffError('EIO', 'cannot locate run-tool for the exit command');
  return [process.execPath, resolve(script)];
}

