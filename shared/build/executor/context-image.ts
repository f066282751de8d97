/**
 * Images named by `--build-context` (named-contexts.ts): `docker-image://REF` is loaded exactly as a FROM base is
 * (store lookup, pull policy, trust policy); `oci-layout://PATH@DIGEST|:TAG` is copied from the layout into the
 * store unnamed (every blob verified, the platform's manifest chosen from an index) and read from there, so its
 * layers are unpacked and cached like any other base image's.
 */
import type { Digest } from '../../oci/digest.ts';
import type { Descriptor, Platform } from '../../oci/types.ts';
import { SkiffError } from '../../errors.ts';
import type { NamedContext } from '../context/named-contexts.ts';
import { loadBaseImage, readStoreImage, type BaseImage } from './base-image.ts';
import type { BuildOptions } from './types.ts';
import type { Store } from '../../store/store.ts';

/** The base image a named image context stands for (a `dir` context is not an image: EINVALID). */
export async function loadContextImage(store: Store, name: string, c: NamedContext, platform: Platform, o: BuildOptions, hooks: { onInfo?: (m: string) => void; onWarning?: (m: string) => void }): Promise<BaseImage> {
  const so = { signal: o.signal };
  if (c.kind === 'image') return loadBaseImage(store, c.ref, platform, { pull: o.pull ?? 'missing', registry: o.registry, trustPolicy: o.trustPolicy, ...so, ...hooks });
  if (c.kind === 'dir') throw new SkiffError('EINVALID', `build context ${name} is a directory, not an image`);
  const [{ openOciLayoutSource }, { openStoreTarget }, { copyImage }] = await Promise.all([import('../../transport/oci-layout.ts'), import('../../transport/store.ts'), import('../../transport/copy-image.ts')]);
  const display = `oci-layout://${c.path}${c.digest ? `@${c.digest}` : c.tag ? `:${c.tag}` : ''}`;
  const src = await openOciLayoutSource(c.path, c.tag, { display, ...(c.digest && { digest: c.digest as Digest }), ...so }).catch((e: unknown) => {
    throw new SkiffError('ENOTFOUND', `build context ${name}: cannot open ${display}: ${e instanceof Error ? e.message : String(e)}`, { hint: 'give the directory of an OCI image layout and a digest or tag it holds' });
  });
  let digest: Digest;
  try {
    const dst = await openStoreTarget(store.paths.root, {}, so);
    try {
      digest = (await copyImage(src, dst, { platform, ...so })).digest;
    } catch (e) {
      if (e instanceof SkiffError && e.code === 'EABORT') throw e;
      throw new SkiffError(e instanceof SkiffError ? e.code : 'EIO', `build context ${name}: cannot read ${display}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
  const m = await store.blobs.readJson<{ mediaType?: string }>({ digest }, so);
  // no size: the store verifies the bytes against the digest alone
  const desc = { digest, mediaType: m.mediaType ?? 'application/vnd.oci.image.manifest.v1+json' } as Descriptor;
  return readStoreImage(store, desc, platform, so);
}
