import type { Command } from 'commander';
import { isSkiffError } from '../../shared/errors.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { cleanupContainer } from '../containers/cleanup-container.ts';
import { checkId, loadById } from '../containers/state.ts';
import { withStore } from './cli-util.ts';

/** Adds the hidden `container-cleanup ID` conmon runs as its exit command: records the exit, unmounts, applies --rm and the restart policy. */
export function addContainerCleanupCommand(program: Command): void {
  const cmd = program.command('container-cleanup', { hidden: true }).argument('<id>')
    .option('--run <token>', 'the conmon run this exit belongs to (a later run is left alone)');
  addRootOption(cmd).action(async (id: string, f: { run?: string }) => {
    try {
      await withStore(cmd, async (store) => {
        const c = await loadById(store.paths.root, checkId(id));
        let stale = false;
        await cleanupContainer(store, checkId(id), { fromMonitor: true, ...(f.run !== undefined && { run: f.run }), onStale: () => { stale = true; }, onWarning: (m) => process.stderr.write(`Error: ${m}\n`) });
        // a pod member's exit may end its pod (--exit-policy stop): the monitor's exit path is where it is seen
        if (!stale && c?.record.pod && !c.record.isInfra) await (await import('../pods/members.ts')).applyExitPolicy(store, id, c.record.pod);
      }, { create: false });
    } catch (e) {
      // The store (and so the container) was removed while it ran: nothing is left to clean.
      if (!isSkiffError(e, 'ENOTFOUND')) throw e;
    }
  });
}
