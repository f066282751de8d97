import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { isSkiffError, SkiffError } from '../../shared/errors.ts';
import { inspectFormat } from './inspect-format.ts';
import { printWarning, withStore } from './cli-util.ts';
import { checkInspectType, inspectObjects } from '../ops/inspect.ts';

/** Adds `inspect [--type container|image|all] [-f FORMAT] NAME…` (podman's): containers first, then images. */
export function addInspectCommand(program: Command): void {
  const cmd = program.command('inspect').description('display the configuration of a container or image').argument('<names...>')
    .option('-f, --format <format>', 'format the output using the given Go template')
    .option('-t, --type <type>', 'specify inspect-object type', 'all')
    .option('-s, --size', 'display total file size (accepted)');
  addRootOption(cmd).action(async (names: string[], f: { format?: string; type: string }) => {
    const type = checkInspectType(f.type);
    await withStore(cmd, async (store) => {
      const { objects: out, error: failed } = await inspectObjects(store, names, { type, onWarning: printWarning });
      if (f.format !== undefined && f.format !== 'json') {
        process.stdout.write(inspectFormat(f.format, out));
      } else process.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
      // podman names the step that failed: `Error: inspecting object: no such object: "x"`
      if (failed) throw isSkiffError(failed) ? new SkiffError(failed.code, `inspecting object: ${failed.message}`, { ...(failed.exitStatus !== undefined && { exitStatus: failed.exitStatus }) }) : failed;
    });
  });
}
