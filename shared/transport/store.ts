import { SkiffError, isSkiffError, type Cancellable } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor, Index } from '../oci/types.ts';
import type { RegistryOptions, RegistryRepository } from '../registry/types.ts';
import { listSourcesOf, referencedBlobs, type RepositoryName } from '../store/list-refs.ts';
import { formatReference, localTagForm, type Reference } from '../ref/reference.ts';
import { layerSizesDir, putCountingLayer, putCountingLentLayer } from '../store/layer-sizes.ts';
import { lookupImage } from '../store/lookup.ts';
import { openStore } from '../store/store.ts';
import { DOCUMENT_CAP, sniffMediaType } from './files.ts';
import type { CommitOpts, ImageTarget, OpenedSource } from './types.ts';
import { readStoreSignatures, writeStoreSignatures } from './store-signatures.ts';

/**
 * A source over the local store (`store:NAME|ID`): found as `run`/`rmi` find images (lookupImage: podman's
 * short-name matching, IDs and unique ID prefixes; `registriesConf` names the registries.conf for short names).
 * Blob reads are verified at EOF by the store. A manifest list with entries added by reference (list-refs.ts) reads
 * a blob the store lacks from the entry's repository (with `registry`'s options) and names that repository as the
 * blob's origin, so a copy to the same registry mounts it instead of streaming it.
 */
export async function openStoreSource(root: string, what: { ref?: Reference; id?: Digest }, o: Cancellable & { registriesConf?: string; registry?: RegistryOptions } = {}): Promise<OpenedSource> {
  const so = { signal: o.signal };
  const store = await openStore(root, so);
  try {
    const input = what.ref ? formatReference(what.ref) : what.id;
    if (input === undefined) throw new SkiffError('EINVALID', 'store: needs an image name or ID');
    const found = await lookupImage(store.layout, input, { ...so, registriesConf: o.registriesConf });
    const top = found.descriptor;
    const sources = listSourcesOf(top);
    const byReference = Object.keys(sources).length > 0;
    let origins: Promise<Map<Digest, { desc: Descriptor; from: RepositoryName }>> | undefined;
    const originOf = async (d: Digest, co: Cancellable) => {
      origins ??= store.blobs.readJson<Index>(top, co).then((idx) => referencedBlobs(store.blobs, idx, sources, co));
      return (await origins).get(d)?.from;
    };
    const repos = new Map<string, Promise<RegistryRepository>>();
    const repoOf = (r: RepositoryName): Promise<RegistryRepository> => {
      const key = `${r.registry}/${r.repository}`;
      let p = repos.get(key);
      if (!p) {
        p = import('../registry/repository.ts').then((m) => m.openRepository(r.registry, r.repository, o.registry ?? {}));
        repos.set(key, p);
      }
      return p;
    };
    return {
      name: `store:${found.name ?? input}`,
      async getManifest(digest, co = {}) {
        const d = digest ?? top.digest;
        const bytes = await store.blobs.readBytes(d === top.digest ? top : { digest: d }, { cap: DOCUMENT_CAP, ...co });
        return { bytes, mediaType: d === top.digest ? top.mediaType : sniffMediaType(bytes), digest: d };
      },
      async getBlob(desc, co = {}) {
        if (byReference && !(await store.blobs.has(desc.digest, desc.size))) {
          const from = await originOf(desc.digest, co);
          if (from) return (await repoOf(from)).getBlob(desc, co);
        }
        return store.blobs.open(desc, co);
      },
      ...(byReference && { blobOrigin: (desc: Descriptor, co: Cancellable = {}) => originOf(desc.digest, co) }),
      getSignatures: (digest, co = {}) => readStoreSignatures(store.paths.root, digest, co),
      close: () => store.close(),
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/**
 * A target writing into the local store under `localhost/`-qualified NAME (as podman and buildah tag local
 * images). hasBlob leases the digest before checking, blobs are committed under this process's lease, and
 * commit() runs store.commitImage (everything referenced exists → tag), so gc cannot race the copy (LS-13)
 * and concurrent copies lose no tag (LS-09). A target named by ID only records the image unnamed.
 */
export async function openStoreTarget(root: string, what: { ref?: Reference; id?: Digest }, o: Cancellable = {}): Promise<ImageTarget> {
  const so = { signal: o.signal };
  const store = await openStore(root, { create: true, write: true, ...so });
  const name = what.ref ? formatReference(localTagForm(what.ref)) : undefined;
  if (what.ref?.digest !== undefined && what.ref.tag === undefined) {
    await store.close();
    throw new SkiffError('EINVALID', 'a store: destination needs a name with a tag, not a digest');
  }
  let top: Descriptor | undefined;
  let sigs: { digest: string; blobs: Uint8Array[] } | undefined;
  return {
    name: `store:${name ?? what.id ?? ''}`,
    blobScope: `store:${store.paths.root}`,
    capabilities: { manifestFormats: ['oci', 'docker'], supportsIndex: true, verifiesBlobs: true },
    async hasManifest(desc, co = {}) {
      if (name === undefined) return false;
      try {
        const e = await store.layout.resolve(name, co);
        return e.digest === desc.digest && (await store.claim(desc, co));
      } catch (e) {
        if (isSkiffError(e, 'ENOTFOUND')) return false;
        throw e;
      }
    },
    hasBlob: (desc, co = {}) => store.claim(desc, co),
    async putBlob(desc, body, co = {}) {
      // a layer's uncompressed size is counted as it streams in, so `images` never decompresses a pulled layer
      await putCountingLayer(layerSizesDir(store.paths.cache), desc.mediaType, body, (b) => store.putBlob(b, { digest: desc.digest, size: desc.size }, co));
    },
    async putLentBlob(desc, body, co = {}) {
      await putCountingLentLayer(layerSizesDir(store.paths.cache), desc.mediaType, body, (b) => store.putBlob(b, { digest: desc.digest, size: desc.size }, co));
    },
    async putManifest(bytes, desc, co) {
      await store.putBlob(bytes, { digest: desc.digest, size: desc.size }, co?.signal ? { signal: co.signal } : {});
      if (co?.top) top = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
    },
    async putSignatures(digest, blobs) {
      sigs = { digest, blobs };
    },
    async commit(co: CommitOpts = {}) {
      if (!top) throw new SkiffError('EINVALID', 'commit called before the top manifest was written');
      if (co.incomplete) throw new SkiffError('EUNSUPPORTED', 'the store holds complete images only; copy with --multi-arch all or system');
      const cs = { signal: co.signal };
      // signatures first: an image visible under its name never lacks the signatures it was copied with
      if (sigs) await writeStoreSignatures(store.paths.root, sigs.digest, sigs.blobs, cs);
      await store.commitImage(top, { name, ...cs });
      for (const t of co.additionalTags ?? []) await store.commitImage(top, { name: formatReference(localTagForm(t)), ...cs });
    },
    close: () => store.close(),
  };
}
