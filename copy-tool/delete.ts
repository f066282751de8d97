import type { Command } from 'commander';
import { SkiffError } from '../shared/errors.ts';
import { parseImageName } from '../shared/ref/transport-name.ts';
import { formatReference, normalizePull } from '../shared/ref/reference.ts';
import { openRepository } from '../shared/registry/repository.ts';
import { openStore } from '../shared/store/store.ts';
import { lookupImage } from '../shared/store/lookup.ts';
import { storeRootOf } from '../shared/cli/program.ts';
import { addImageOptions, commandSignal, registryOptionsOf } from './options.ts';
import { requireTransport } from './common.ts';

/**
 * `delete IMAGE`: on a registry, resolves the tag to its manifest digest and deletes the manifest (every tag
 * pointing at it goes, as with skopeo); in the store, removes the name (the image stays as dangling until prune
 * when other names or containers need it — blobs are freed by gc).
 */
export function addDeleteCommand(program: Command): void {
  const cmd = program.command('delete').description('delete an image from a registry or the store').argument('<image>', 'docker://… or store:…');
  addImageOptions(cmd).action(async (input: string) => {
    const name = requireTransport(parseImageName(input), input);
    const { signal, dispose } = commandSignal(cmd);
    try {
      if (name.transport === 'docker') {
        const ref = normalizePull(name.ref);
        const repo = openRepository(ref.registry, ref.path, registryOptionsOf(cmd));
        const digest = ref.digest ?? (await repo.headManifest(ref.tag ?? 'latest', { signal }))?.digest;
        if (!digest) throw new SkiffError('ENOTFOUND', `${formatReference(ref)}: manifest unknown`);
        await repo.deleteManifest(digest, { signal });
        return;
      }
      if (name.transport === 'store') {
        const store = await openStore(storeRootOf(cmd), { write: true });
        try {
          const rc = registryOptionsOf(cmd).registriesConf;
          const found = await lookupImage(store.layout, name.id ?? formatReference(name.ref!), { signal, registriesConf: rc });
          if (found.name) await store.layout.untag(found.name, { signal });
          else await store.layout.remove(found.descriptor.digest, { signal });
        } finally {
          await store.close();
        }
        return;
      }
      throw new SkiffError('EUNSUPPORTED', `delete is not supported for ${name.transport}: transport`, { hint: 'delete works on docker:// and store:' });
    } finally {
      dispose();
    }
  });
}
