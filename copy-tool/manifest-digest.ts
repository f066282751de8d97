import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { SkiffError } from '../shared/errors.ts';
import { digestOf } from '../shared/oci/digest.ts';
import { JSON_BLOB_CAP } from '../shared/store/blob-store.ts';

/** `manifest-digest MANIFEST-FILE`: prints the digest of the file's exact bytes, as skopeo does. */
export function addManifestDigestCommand(program: Command): void {
  program
    .command('manifest-digest')
    .description('compute a manifest digest of a file')
    .argument('<manifest-file>', 'path of the manifest')
    .action(async (file: string) => {
      const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
        throw new SkiffError(e.code === 'ENOENT' ? 'ENOTFOUND' : 'EIO', `reading manifest ${file}: ${e.message}`);
      });
      if (bytes.length > JSON_BLOB_CAP) throw new SkiffError('ELIMIT', `manifest ${file} is larger than ${JSON_BLOB_CAP} bytes`);
      process.stdout.write(`${digestOf(bytes)}\n`);
    });
}
