import type { Command } from 'commander';
import { addCreateFlags, createRegistryOptions, parseCreateFlags, podRefOf, type CreateFlags } from './create-flags.ts';
import { withStore } from './cli-util.ts';
import type { PullPolicy } from '../containers/pull-policy.ts';
import { createContainer } from '../ops/create-container.ts';

/**
 * Adds `create [flags] IMAGE [COMMAND [ARG…]]` (podman's): prints the new container's full ID. A pull `--pull`
 * makes uses `--tls-verify`, `--authfile` and `--creds`.
 */
export function addCreateCommand(program: Command): void {
  const cmd = program
    .command('create')
    .description('create but do not start a container')
    .argument('<image>')
    .argument('[command...]')
    .passThroughOptions();
  addCreateFlags(cmd).action(async (image: string, args: string[], f: CreateFlags) => {
    const o = parseCreateFlags(image, args, f);
    const podRef = podRefOf(f);
    await withStore(cmd, async (store) => {
      const warn = (m: string) => void process.stderr.write(`${m}\n`);
      const r = await createContainer(store, { ...o, pull: f.pull as PullPolicy, registry: createRegistryOptions(f), ...(podRef !== undefined && { podRef }), log: warn, onWarning: warn });
      process.stdout.write(`${r.id}\n`);
    });
  });
}
