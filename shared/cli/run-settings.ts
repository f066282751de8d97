import type { Command } from 'commander';
import type { BuildOptions } from '../build/executor/types.ts';
import { normalizeCap } from '../runtime/capabilities.ts';
import { parseHostBind, parseMountFlag } from '../runtime/mounts.ts';
import { collect } from './flags.ts';

// The RUN settings a whole build (or one scripting-verb `run`) applies to each command it runs: buildah's
// `--cap-add`, `--cap-drop`, `-v/--volume` and, for the verb, `--mount`.

/** Adds `--cap-add`, `--cap-drop`, `-v/--volume` (and `--mount` when `withMount`) to `cmd`; returns `cmd`. */
export function addRunSettingsOptions(cmd: Command, o: { withMount?: boolean } = {}): Command {
  cmd
    .option('--cap-add <cap>', 'add a capability to each RUN (repeatable; ALL adds every one)', collect, [])
    .option('--cap-drop <cap>', 'drop a capability from each RUN (repeatable; ALL drops every default one)', collect, [])
    .option('-v, --volume <src:dst[:opts]>', 'bind a host directory into each RUN (repeatable; its content never enters a layer)', collect, []);
  if (o.withMount) cmd.option('--mount <spec>', 'type=bind,src=HOST,dst=PATH[,ro] or type=tmpfs,dst=PATH (repeatable)', collect, []);
  return cmd;
}

/**
 * The BuildOptions of those flags in `f` (commander's values): capability names normalised (an unknown one fails
 * here, before any work), host binds parsed and checked to exist, mounts validated; absent flags add nothing, so a
 * build without them keeps its cache keys.
 */
export function runSettings(f: Record<string, unknown>): Pick<BuildOptions, 'capAdd' | 'capDrop' | 'runMounts'> {
  const list = (k: string): string[] => (f[k] as string[] | undefined) ?? [];
  const capAdd = list('capAdd').map(normalizeCap);
  const capDrop = list('capDrop').map(normalizeCap);
  const runMounts = [...list('volume').map((v) => parseHostBind(v)), ...list('mount').map(parseMountFlag)];
  return { ...(capAdd.length > 0 && { capAdd }), ...(capDrop.length > 0 && { capDrop }), ...(runMounts.length > 0 && { runMounts }) };
}
