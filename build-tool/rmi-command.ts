/** `build-tool rmi IMAGE…`: removes names (and the image when no name is left), then collects unreferenced blobs. */
import type { Command } from 'commander';
import { addRootOption, storeRootOf } from '../shared/cli/program.ts';
import { lookupImage } from '../shared/store/lookup.ts';
import { openStore } from '../shared/store/store.ts';
import { Annotation } from '../shared/oci/media-types.ts';

/** Adds `rmi` (buildah's: prints the removed image IDs). */
export function addRmiCommand(program: Command): void {
  const cmd = program.command('rmi').description('remove local images').argument('<images...>').option('-f, --force', 'remove every name of an image given by ID');
  addRootOption(cmd).action(async (images: string[]) => {
    const store = await openStore(storeRootOf(cmd), { write: true });
    try {
      for (const image of images) {
        const found = await lookupImage(store.layout, image);
        if (found.name !== undefined) await store.layout.untag(found.name);
        const named = (await store.layout.entries()).filter((e) => e.digest === found.descriptor.digest && e.annotations?.[Annotation.RefName] !== undefined);
        if (found.name === undefined || named.length === 0) await store.layout.remove(found.descriptor.digest);
        process.stdout.write(`${(found.id ?? found.descriptor.digest).slice(7)}\n`);
      }
      await store.gc();
    } finally {
      await store.close();
    }
  });
}
