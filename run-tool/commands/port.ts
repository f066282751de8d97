import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { listContainers, loadContainer } from '../containers/state.ts';
import { withStore } from './cli-util.ts';

/** Adds `port [-a] CONTAINER [PRIVATE_PORT[/PROTO]]` (podman's): `80/tcp -> 127.0.0.1:8080` lines. */
export function addPortCommand(program: Command): void {
  const cmd = program.command('port').description('list port mappings or a specific mapping for the container').argument('[container]').argument('[port]')
    .option('-a, --all', 'display port information for all containers');
  addRootOption(cmd).action(async (name: string | undefined, port: string | undefined, f: { all?: boolean }) => {
    await withStore(cmd, async (store) => {
      const list = f.all ? await listContainers(store.paths.root) : [await loadContainer(store.paths.root, name ?? '')];
      for (const c of list) {
        for (const b of c.record.hostConfig.portBindings) {
          const key = `${b.containerPort}/${b.protocol}`;
          if (port !== undefined && port !== key && port !== String(b.containerPort)) continue;
          const host = `${b.hostIP || '0.0.0.0'}:${b.hostPort}`;
          process.stdout.write(port !== undefined ? `${host}\n` : `${f.all ? `${c.record.id.slice(0, 12)}\t` : ''}${key} -> ${host}\n`);
        }
      }
    });
  });
}
