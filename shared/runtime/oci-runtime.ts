// Which OCI runtime binary the tools drive: containers.conf's [engine] `runtime` (a name or a path), podman's
// default `runc` otherwise. The runtime is driven through runc's command line (crun and youki speak it too).
import { accessSync, constants } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { containersConf, type ContainersConf } from '../config/containers-conf.ts';
import { SkiffError } from '../errors.ts';
import { locateProgram, overrideVariable, requireProgram } from '../process/system-programs.ts';

/** The OCI runtime chosen: its name (what inspect's OCIRuntime shows) and the executable's path. */
export interface OciRuntime {
  name: string;
  path: string;
}

/**
 * The runtime to use: `SKIFF_RUNC` when set (a test's or packager's explicit binary) wins; else containers.conf's
 * `runtime` — a path must be an executable file (podman's "no valid executable found for OCI runtime …"), a name
 * is looked up as requireProgram does (podman's `default OCI runtime "crun" not found`); else runc. A missing one
 * is ENODEP with one line and a hint naming the key. Reads file modes only; `conf` defaults to this process's.
 */
export function ociRuntime(conf: Pick<ContainersConf, 'runtime'> = containersConf(), env: NodeJS.ProcessEnv = process.env): OciRuntime {
  if (env[overrideVariable('runc')]) return { name: 'runc', path: requireProgram('runc', env) };
  const want = conf.runtime?.trim() || 'runc';
  const hint = 'install it, or set runtime = "runc" in the [engine] table of containers.conf';
  if (want.includes('/')) {
    try {
      if (!isAbsolute(want)) throw new Error('relative');
      accessSync(want, constants.X_OK);
    } catch {
      throw new SkiffError('ENODEP', `no valid executable found for OCI runtime ${want}`, { hint });
    }
    return { name: basename(want), path: want };
  }
  if (want === 'runc') return { name: 'runc', path: requireProgram('runc', env) };
  const path = locateProgram(want, env);
  if (path === undefined) throw new SkiffError('ENODEP', `default OCI runtime ${JSON.stringify(want)} not found`, { hint });
  return { name: want, path };
}
