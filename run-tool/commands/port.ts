import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { listPortMappings } from '../ops/container-ports.ts';
import { withStore } from './cli-util.ts';

/** Adds `port [-a] CONTAINER [PRIVATE_PORT[/PROTO]]` (podman's): `80/tcp -> 127.0.0.1:8080` lines. */
export function addPortCommand(program: Command): void {
  const cmd = program.command('port').description('list port mappings or a specific mapping for the container').argument('[container]').argument('[port]')
    .option('-a, --all', 'display port information for all containers');
  addRootOption(cmd).action(async (name: string | undefined, port: string | undefined, f: { all?: boolean }) => {
    await withStore(cmd, async (store) => {
      const mappings = await listPortMappings(store, name, port === undefined ? { all: f.all === true } : { all: f.all === true, port });
      for (const m of mappings) {
        process.stdout.write(port !== undefined ? `${m.host}\n` : `${f.all ? `${m.id.slice(0, 12)}\t` : ''}${m.containerPort} -> ${m.host}\n`);
      }
    });
  });
}
