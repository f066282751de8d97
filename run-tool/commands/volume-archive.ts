import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { exportVolume, importVolume, volumeExists } from '../ops/volume-archive.ts';

/** The `volume` group, made by volume.ts when it loaded first. */
function volumeGroup(program: Command): Command {
  return program.commands.find((c) => c.name() === 'volume') ?? program.command('volume').description('manage named volumes');
}

/**
 * Adds podman's `volume exists NAME` (exit 0 or 1, nothing printed), `volume export [-o FILE] NAME` (the volume's
 * content as a tar on stdout or in FILE) and `volume import NAME [FILE|-]` (a tar merged into the volume; entries
 * that climb out are refused before anything is written).
 */
export function addVolumeArchiveCommands(program: Command): void {
  const volume = volumeGroup(program);

  const exists = volume.command('exists').description('check if the given volume exists').argument('<name>');
  addRootOption(exists).action(async (name: string) => {
    if (!(await volumeExists(storeRootOf(exists), name))) process.exitCode = 1;
  });

  const exp = volume
    .command('export')
    .description('export volumes')
    .argument('<name>')
    .option('-o, --output <file>', 'write to a specified file (default: stdout, which must be redirected)');
  addRootOption(exp).action(async (name: string, f: { output?: string }) => {
    const interrupt = interruptSignal();
    try {
      await exportVolume(storeRootOf(exp), name, f.output !== undefined && f.output !== '/dev/stdout' ? { file: f.output } : { stream: process.stdout }, {
        signal: interrupt.signal,
        onWarning: (m) => process.stderr.write(`WARN: ${m}\n`),
      });
    } finally {
      interrupt.dispose();
    }
  });

  const imp = volume.command('import').description('import a tarball contents into a volume').argument('<name>').argument('[source]', 'tar file, or - for stdin', '-');
  addRootOption(imp).action(async (name: string, source: string) => {
    const interrupt = interruptSignal();
    try {
      let input: NodeJS.ReadableStream;
      if (source === '-') input = process.stdin;
      else {
        const s = createReadStream(source);
        await new Promise<void>((resolve, reject) => {
          s.once('open', () => resolve());
          s.once('error', (e: NodeJS.ErrnoException) => reject(new SkiffError('ENOTFOUND', `open ${source}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`, { cause: e })));
        });
        input = s;
      }
      await importVolume(storeRootOf(imp), name, input as import('node:stream').Readable, { signal: interrupt.signal });
    } finally {
      interrupt.dispose();
    }
  });
}
