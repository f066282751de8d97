import type { SkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { exitError } from '../containers/exit-status.ts';
import { getRunc } from '../containers/runc-handle.ts';
import { loadContainer } from '../containers/state.ts';

// The process listing operation (podman's `top`), through `runc ps`.

/** podman's default `top` columns, as ps(1) descriptors. */
export const TOP_DEFAULT_DESCRIPTORS = 'user,pid,ppid,pcpu,etime,tty,time,args';

/**
 * The ps(1) table of the processes of running container `nameOrId` with columns `descriptors` (podman's default
 * columns when empty); exit status 125 when the container is not running or runc fails.
 */
export async function topContainer(store: Store, nameOrId: string, descriptors: readonly string[] = []): Promise<string> {
  const c = await loadContainer(store.paths.root, nameOrId);
  if (c.state.status !== 'running') throw exitError(125, `top can only be used on running containers: container state improper`);
  const runc = await getRunc();
  const fmt = descriptors.length ? descriptors.join(',') : TOP_DEFAULT_DESCRIPTORS;
  const out = await runc.ps(c.record.id, fmt).catch((e: SkiffError) => {
    throw exitError(125, String(e.details?.stderr ?? '').trim() || e.message);
  });
  const lines = out.split('\n');
  if (!descriptors.length && lines[0]) lines[0] = lines[0].replace(/COMMAND\s*$/, 'COMMAND');
  return lines.join('\n');
}
