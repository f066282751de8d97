import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { exportContainer } from '../ops/export-container.ts';
import { withStore } from './cli-util.ts';

/**
 * Adds `export [-o FILE] CONTAINER` (podman's): the container's file system as a tar archive on stdout (refused
 * when stdout is a terminal, as podman does) or in FILE.
 */
export function addExportCommand(program: Command): void {
  const cmd = program
    .command('export')
    .description("export a container's file system contents as a tar archive")
    .argument('<container>')
    .option('-o, --output <file>', 'write to a specified file (default: stdout, which must be redirected)');
  addRootOption(cmd).action(async (name: string, f: { output?: string }) => {
    if (f.output === undefined && process.stdout.isTTY) throw new SkiffError('EINVALID', 'refusing to export to terminal. Use -o flag or redirect');
    const interrupt = interruptSignal();
    try {
      await withStore(cmd, async (store) => {
        await exportContainer(store, name, f.output !== undefined ? { file: f.output } : { stream: process.stdout }, {
          signal: interrupt.signal,
          onWarning: (m) => process.stderr.write(`WARN: ${m}\n`),
        });
      });
    } finally {
      interrupt.dispose();
    }
  });
}
