import { unlink } from 'node:fs/promises';
import type { Command } from 'commander';
import { collect } from '../../shared/cli/flags.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { printWarningLine } from '../../shared/cli/warning-line.ts';
import { isSkiffError, SkiffError } from '../../shared/errors.ts';
import { listContainers, loadContainer } from '../containers/state.ts';
import { removeContainer } from '../ops/container-lifecycle.ts';
import { forEachContainer, readCidFiles, removalExitStatus, withStore } from './cli-util.ts';

/**
 * Adds `rm [-f] [-t SECONDS] [-v] [-a] CONTAINER…` (podman's): prints each container as the user named it (the full
 * ID with --all); a running container needs -f, which stops it first (waiting `-t` seconds before killing, default 0;
 * `-t` only with -f, as podman). A name that does not exist fails the whole command before anything is removed
 * (exit 1) unless -f or -i, which pass over it silently; other failures are printed one line each and the exit
 * status is podman's (removalExitStatus: 2 for a running container, 125 for the rest).
 */
export function addRmCommand(program: Command): void {
  const cmd = program.command('rm').description('remove one or more containers').argument('[containers...]')
    .option('-f, --force', 'force removal of a running container')
    .option('-v, --volumes', 'remove anonymous volumes associated with the container')
    .option('-a, --all', 'remove all containers')
    .option('-i, --ignore', 'ignore errors when a specified container is missing')
    .option('-t, --time <seconds>', 'seconds to wait for stop before killing a running container (with --force)')
    .option('--cidfile <file>', 'read the container ID from the file (removed with the container)', collect, [] as string[]);
  addRootOption(cmd).action(async (names: string[], f: { force?: boolean; all?: boolean; ignore?: boolean; volumes?: boolean; time?: string; cidfile: string[] }) => {
    const timeout = f.time === undefined ? undefined : Number(f.time);
    if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 0)) throw new SkiffError('EINVALID', `invalid --time ${JSON.stringify(f.time)}: expected a number of seconds`);
    if (timeout !== undefined && !f.force) throw new SkiffError('EINVALID', '--force option must be specified to use the --time option');
    await withStore(cmd, async (store) => {
      // newest first: a container sharing another's namespaces is always newer than it and must go first
      const all = f.all ? (await listContainers(store.paths.root)).reverse() : [];
      // a pod's infra container goes with its pod (podman's rm --all removes both), after the pod's members
      const infras = all.filter((c) => c.record.isInfra && c.record.pod);
      const cids = await readCidFiles(f.cidfile, f.ignore === true);
      const targets = f.all ? all.filter((c) => !infras.includes(c)).map((c) => c.record.id) : [...names, ...cids.values()];
      if (!f.all && names.length === 0 && f.cidfile.length === 0) throw new SkiffError('EINVALID', 'you must provide at least one name or id');
      const ignoreMissing = f.force === true || f.ignore === true;
      // podman looks every name up first: one that does not exist fails the command before anything is removed
      if (!ignoreMissing) for (const n of names) await loadContainer(store.paths.root, n).catch((e) => { throw isSkiffError(e, 'ENOTFOUND') ? new SkiffError('ENOTFOUND', e.message, { exitStatus: 1 }) : e; });
      const errors: unknown[] = [];
      for (const n of targets) {
        try {
          const r = await removeContainer(store, n, { force: f.force === true, volumes: f.volumes === true, ...(timeout !== undefined && { timeout }), ignoreMissing, onWarning: (m) => process.stderr.write(`Error: ${m}\n`), onTimeout: printWarningLine });
          if (r) process.stdout.write(`${n}\n`);
        } catch (e) {
          process.stderr.write(`Error: ${(e as Error).message}\n`);
          errors.push(e);
          continue;
        }
        // podman removes a cid file with its container, so the unit's next start may write it again
        for (const [file, id] of cids) if (id === n) await unlink(file).catch(() => {});
      }
      if (errors.length > 0) process.exitCode = removalExitStatus(errors);
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
