import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { SkiffError, type Cancellable } from '../../shared/errors.ts';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { parseReference, type Reference } from '../../shared/ref/reference.ts';
import { copyImage } from '../../shared/transport/copy-image.ts';
import { openDirTarget } from '../../shared/transport/dir.ts';
import { openDockerArchiveTarget } from '../../shared/transport/docker-archive.ts';
import { openOciArchiveTarget } from '../../shared/transport/oci-archive.ts';
import { openOciLayoutTarget } from '../../shared/transport/oci-layout.ts';
import { openStoreSource } from '../../shared/transport/store.ts';
import type { ImageTarget } from '../../shared/transport/types.ts';
import { isDigest, type Digest } from '../../shared/oci/digest.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';

/** podman save's formats. */
export type SaveFormat = 'docker-archive' | 'oci-archive' | 'oci-dir' | 'docker-dir';
const FORMATS: readonly SaveFormat[] = ['docker-archive', 'oci-archive', 'oci-dir', 'docker-dir'];

/**
 * Writes image `image` (name, ID or prefix) of the store at `root` to `output` in `format`, through the
 * transport library: archives appear only when complete (temp + rename), blobs are verified while they stream.
 * Archives record the image's name (docker-archive RepoTags, oci-archive ref.name) when it was named by name.
 */
export async function saveImage(root: string, image: string, output: string, format: SaveFormat, o: Cancellable = {}): Promise<void> {
  const so = { signal: o.signal };
  const hex = image.replace(/^sha256:/, '');
  let what: { ref?: Reference; id?: Digest };
  try {
    what = { ref: parseReference(image) };
  } catch (e) {
    const d = `sha256:${hex}`;
    if (isDigest(d)) what = { id: d };
    else throw e;
  }
  const src = await openStoreSource(root, what, so);
  try {
    const name = src.name.startsWith('store:') ? src.name.slice('store:'.length) : undefined;
    let ref: Reference | undefined;
    try {
      ref = name !== undefined ? parseReference(name) : undefined;
    } catch {
      ref = undefined;
    }
    if (ref && ref.registry === undefined) ref = undefined; // found by ID (store:sha256:…): no name to record
    let dst: ImageTarget;
    switch (format) {
      case 'docker-archive':
        dst = await openDockerArchiveTarget(output, ref, so);
        break;
      case 'oci-archive':
        dst = await openOciArchiveTarget(output, name !== undefined && ref ? name : undefined, so);
        break;
      case 'oci-dir':
        dst = await openOciLayoutTarget(output, name !== undefined && ref ? name : undefined, so);
        break;
      case 'docker-dir':
        dst = await openDirTarget(output, so);
        break;
    }
    try {
      await copyImage(src, dst, { ...(format === 'docker-archive' || format === 'docker-dir' ? { format: 'docker' as const } : { format: 'oci' as const }), ...so });
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

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
    if (!FORMATS.includes(a.format as SaveFormat)) throw new SkiffError('EINVALID', `unsupported format ${JSON.stringify(a.format)}: use docker-archive, oci-archive, oci-dir or docker-dir`);
    const format = a.format as SaveFormat;
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
