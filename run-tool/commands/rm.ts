import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { listContainers } from '../containers/state.ts';
import { removeContainer } from '../ops/container-lifecycle.ts';
import { forEachContainer, withStore } from './cli-util.ts';

/**
 * Adds `rm [-f] [-t SECONDS] [-v] [-a] CONTAINER…` (podman's): prints each full ID removed; a running container
 * needs -f, which stops it first (waiting `-t` seconds before killing, default 0; `-t` only with -f, as podman).
 */
export function addRmCommand(program: Command): void {
  const cmd = program.command('rm').description('remove one or more containers').argument('[containers...]')
    .option('-f, --force', 'force removal of a running container')
    .option('-v, --volumes', 'remove anonymous volumes associated with the container')
    .option('-a, --all', 'remove all containers')
    .option('-i, --ignore', 'ignore errors when a specified container is missing')
    .option('-t, --time <seconds>', 'seconds to wait for stop before killing a running container (with --force)');
  addRootOption(cmd).action(async (names: string[], f: { force?: boolean; all?: boolean; ignore?: boolean; volumes?: boolean; time?: string }) => {
    const timeout = f.time === undefined ? undefined : Number(f.time);
    if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 0)) throw new SkiffError('EINVALID', `invalid --time ${JSON.stringify(f.time)}: expected a number of seconds`);
    if (timeout !== undefined && !f.force) throw new SkiffError('EINVALID', '--force option must be specified to use the --time option');
    await withStore(cmd, async (store) => {
      // newest first: a container sharing another's namespaces is always newer than it and must go first
      const all = f.all ? (await listContainers(store.paths.root)).reverse() : [];
      // a pod's infra container goes with its pod (podman's rm --all removes both), after the pod's members
      const infras = all.filter((c) => c.record.isInfra && c.record.pod);
      const targets = f.all ? all.filter((c) => !infras.includes(c)).map((c) => c.record.id) : names;
      if (!f.all && names.length === 0) throw new SkiffError('EINVALID', 'you must provide at least one name or id');
      await forEachContainer(targets, async (n) => {
        const r = await removeContainer(store, n, { force: f.force === true, volumes: f.volumes === true, ...(timeout !== undefined && { timeout }), ignoreMissing: f.ignore === true, onWarning: (m) => process.stderr.write(`Error: ${m}\n`) });
        if (r) process.stdout.write(`${r.id}\n`);
      });
      if (infras.length > 0) {
        const { removePod } = await import('../ops/pods.ts');
        await forEachContainer(infras.map((c) => c.record.id), async (id) => {
          const c = infras.find((x) => x.record.id === id)!;
          if (await removePod(store, c.record.pod!, { force: f.force === true, timeout: timeout ?? 0, ignoreMissing: true })) process.stdout.write(`${id}\n`);
        });
      }
    });
  });
}
