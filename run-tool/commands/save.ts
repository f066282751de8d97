import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { SkiffError } from '../../shared/errors.ts';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { saveFormat, saveImage } from '../ops/save-image.ts';

/**
 * Adds podman's `save [-o FILE] [--format docker-archive|oci-archive|oci-dir|docker-dir] [-q] IMAGE`: the archive
 * goes to FILE or, without -o, to stdout (refused when stdout is a terminal, as podman does).
 */
export function addSaveCommand(program: Command): void {
  const cmd = program
    .command('save')
    .description('save an image to an archive or directory')
    .argument('<images...>', 'image name or ID')
    .option('-o, --output <file>', 'write to FILE (default: standard output)')
    .option('--format <format>', 'docker-archive, oci-archive, oci-dir or docker-dir', 'docker-archive')
    .option('-q, --quiet', 'suppress progress output')
    .option('-m, --multi-image-archive', 'accepted for podman compatibility; one image per archive is supported');
  addRootOption(cmd).action(async (images: string[], a: { output?: string; format: string; quiet?: boolean }) => {
    const format = saveFormat(a.format);
    if (images.length > 1) throw new SkiffError('EUNSUPPORTED', 'saving several images into one archive is not supported; save them one at a time');
    if ((format === 'oci-dir' || format === 'docker-dir') && !a.output) throw new SkiffError('EINVALID', `--format ${format} needs -o DIRECTORY`);
    const root = storeRootOf(cmd);
    const { signal, dispose } = interruptSignal();
    try {
      if (a.output) {
        await saveImage(root, images[0]!, a.output, format, { signal });
        return;
      }
      if (process.stdout.isTTY) throw new SkiffError('EINVALID', 'refusing to save to terminal. Use -o flag or redirect');
      const dir = await mkdtemp(join(process.env.TMPDIR || tmpdir(), 'skiff-save-'));
      try {
        const file = join(dir, 'image.tar');
        await saveImage(root, images[0]!, file, format, { signal });
        await pipeline(createReadStream(file), process.stdout, { end: false, signal });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      dispose();
    }
  });
}
