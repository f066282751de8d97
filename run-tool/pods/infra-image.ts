/**
 * The default infra image: made here, never pulled (an offline machine has no pause image to fetch). It holds
 * one file, `/catatonit` (the host's static catatonit binary, Debian's package), and runs `catatonit -P`, which
 * does nothing but hold the pod's namespaces and reap. The image is tagged `localhost/skiff-infra:<12 hex of the
 * binary's sha256>`: built once per catatonit build, then found by name and reused; a fixed creation time makes
 * the same binary give the same image ID everywhere. The tar writer and the importer load only for that one build:
 * every later pod finds the image by name without them.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isSkiffError, SkiffError, type Cancellable } from '../../shared/errors.ts';
import { lookupImage } from '../../shared/store/lookup.ts';
import type { Store } from '../../shared/store/store.ts';

/** Where catatonit is looked for (podman's libexec path first). */
export const CATATONIT_PATHS = ['/usr/libexec/podman/catatonit', '/usr/bin/catatonit'];

const CREATED = new Date('2000-01-01T00:00:00Z');

async function findCatatonit(): Promise<string> {
  for (const p of CATATONIT_PATHS) if ((await stat(p).catch(() => undefined))?.isFile()) return p;
  throw new SkiffError('ENODEP', 'catatonit is not installed: the pod infra image is built from it', { hint: 'apt-get install catatonit, or give --infra-image' });
}

/**
 * The name of the default infra image, building it into the store first when it is not there. Idempotent: a
 * concurrent second build writes the same blobs and tag.
 */
export async function ensureInfraImage(store: Store, o: Cancellable = {}): Promise<string> {
  const bin = await findCatatonit();
  const bytes = await readFile(bin);
  const name = `localhost/skiff-infra:${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}`;
  try {
    await lookupImage(store.layout, name, o);
    return name;
  } catch (e) {
    if (!isSkiffError(e, 'ENOTFOUND')) throw e;
  }
  const [{ TarWriter }, { importTarball }] = await Promise.all([import('../../shared/layer/tar-write.ts'), import('../../shared/transport/tarball.ts')]);
  const tar = new TarWriter({ mtime: CREATED });
  const done = (async () => {
    await tar.add({ name: 'catatonit', type: 'file', mode: 0o755, size: bytes.length }, bytes);
    tar.finish();
  })();
  await importTarball(store, tar.stream, {
    name,
    created: CREATED,
    comment: 'skiff pod infra image',
    config: { Entrypoint: ['/catatonit', '-P'], Labels: { 'io.skiff.infra': 'true' } },
    ...o,
  });
  await done;
  return name;
}
