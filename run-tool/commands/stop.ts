import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { listContainers } from '../containers/state.ts';
import { stopContainer } from '../ops/container-lifecycle.ts';
import { forEachContainer, readCidFiles, withStore } from './cli-util.ts';
import { collect } from '../../shared/cli/flags.ts';
import { SkiffError } from '../../shared/errors.ts';
import { printWarningLine } from '../../shared/cli/warning-line.ts';

/**
 * Adds `stop [-t N] [-a] CONTAINER…` (podman's): StopSignal, then SIGKILL after N s (default the container's stop
 * timeout, 10), with podman's warning line when that SIGKILL was needed.
 */
export function addStopCommand(program: Command): void {
  const cmd = program.command('stop').description('stop one or more containers').argument('[containers...]')
    .option('-t, --time <seconds>', 'seconds to wait for stop before killing the container')
    .option('-a, --all', 'stop all running containers')
    .option('-i, --ignore', 'ignore errors when a specified container is missing')
    .option('--cidfile <file>', 'read the container ID from the file', collect, [] as string[]);
  addRootOption(cmd).action(async (names: string[], f: { time?: string; all?: boolean; ignore?: boolean; cidfile: string[] }) => {
    const timeout = f.time === undefined ? undefined : Number(f.time);
    if (timeout !== undefined && !(timeout >= 0)) throw new SkiffError('EINVALID', `invalid --time ${f.time}`);
    await withStore(cmd, async (store) => {
      const cids = await readCidFiles(f.cidfile, f.ignore === true);
      const targets = f.all ? (await listContainers(store.paths.root)).filter((c) => c.state.status === 'running').map((c) => c.record.id) : [...names, ...cids.values()];
      if (!f.all && names.length === 0 && f.cidfile.length === 0) throw new SkiffError('EINVALID', 'you must provide at least one container name or ID');
      await forEachContainer(targets, async (n) => {
        const r = await stopContainer(store, n, { ...(timeout !== undefined && { timeout }), ignoreMissing: f.ignore === true, onWarning: (m) => process.stderr.write(`Error: ${m}\n`), onTimeout: printWarningLine });
        if (r) process.stdout.write(`${n}\n`);
      });
    });
  });
}
