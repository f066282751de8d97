import type { SkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { exitError } from '../containers/exit-status.ts';
import { getRunc } from '../containers/runc-handle.ts';
import { loadContainer } from '../containers/state.ts';
import { psgoDescriptors, renderTop } from '../containers/proc-top.ts';

// The process listing operation (podman's `top`), through `runc ps`.

/** podman's default `top` columns, as ps(1) descriptors (the fallback for descriptors psgo does not know). */
export const TOP_DEFAULT_DESCRIPTORS = 'user,pid,ppid,pcpu,etime,tty,time,args';

/**
 * The table of the processes of running container `nameOrId` with columns `descriptors` (podman's default columns
 * when empty). psgo's descriptors are rendered as podman does, from /proc as the container sees it (renderTop);
 * other descriptors go to ps(1) through `runc ps`. Exit status 125 when the container is not running or runc fails.
 */
export async function topContainer(store: Store, nameOrId: string, descriptors: readonly string[] = []): Promise<string> {
  const c = await loadContainer(store.paths.root, nameOrId);
  if (c.state.status !== 'running') throw exitError(125, `top can only be used on running containers: container state improper`);
  const runc = await getRunc();
  const ps = (fmt: string) => runc.ps(c.record.id, fmt).catch((e: SkiffError) => {
    throw exitError(125, String(e.details?.stderr ?? '').trim() || e.message);
  });
  const psgo = psgoDescriptors(descriptors);
  if (psgo) {
    const pids = (await ps('pid')).split('\n').map((l) => Number(l.trim())).filter((n) => Number.isSafeInteger(n) && n > 0);
    return renderTop(pids, psgo);
  }
  const lines = (await ps(descriptors.join(','))).split('\n');
  return lines.join('\n');
}
