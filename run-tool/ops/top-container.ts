import type { SkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { exitError } from '../containers/exit-status.ts';
import { getRunc } from '../containers/runc-handle.ts';
import { loadContainer } from '../containers/state.ts';
import { psgoDescriptors, topRows } from '../containers/proc-top.ts';

// The process listing operation (podman's `top`), through `runc ps`.

/** podman's default `top` columns, as ps(1) descriptors (the fallback for descriptors psgo does not know). */
export const TOP_DEFAULT_DESCRIPTORS = 'user,pid,ppid,pcpu,etime,tty,time,args';

/**
 * The processes of running container `nameOrId` with columns `descriptors` (podman's default columns when empty):
 * the header row, then one row per process. psgo's descriptors are computed as podman does, from /proc as the
 * container sees it (topRows); other descriptors go to ps(1) through `runc ps`, its columns split at blanks (the
 * last one keeps its own). Exit status 125 when the container is not running or runc fails.
 */
export async function topContainer(store: Store, nameOrId: string, descriptors: readonly string[] = []): Promise<string[][]> {
  const c = await loadContainer(store.paths.root, nameOrId);
  if (c.state.status !== 'running') throw exitError(125, `top can only be used on running containers: container state improper`);
  const runc = await getRunc();
  const ps = (fmt: string) => runc.ps(c.record.id, fmt).catch((e: SkiffError) => {
    throw exitError(125, String(e.details?.stderr ?? '').trim() || e.message);
  });
  const psgo = psgoDescriptors(descriptors);
  if (psgo) {
    const pids = (await ps('pid')).split('\n').map((l) => Number(l.trim())).filter((n) => Number.isSafeInteger(n) && n > 0);
    return topRows(pids, psgo);
  }
  const lines = (await ps(descriptors.join(','))).split('\n').filter((l) => l.trim() !== '');
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  return [titles, ...lines.slice(1).map((l) => {
    const cols = l.trim().split(/\s+/);
    return [...cols.slice(0, titles.length - 1), cols.slice(titles.length - 1).join(' ')];
  })];
}
