import { SkiffError, isSkiffError, type Cancellable } from '../errors.ts';
import type { ManifestBytes } from '../image/source.ts';
import { formatReference, normalizePull, type QualifiedReference, type Reference } from '../ref/reference.ts';
import { openRepository } from '../registry/repository.ts';
import type { RegistryOptions, RegistryRepository } from '../registry/types.ts';
import type { CommitOpts, ImageTarget, OpenedSource } from './types.ts';
import { readRegistrySignatures, writeRegistrySignatures, type RegistrySignatureConfig } from './registry-signatures.ts';

function sourceOver(repo: RegistryRepository, q: QualifiedReference, top: ManifestBytes, sc: RegistrySignatureConfig): OpenedSource {
  return {
    name: `docker://${formatReference(q)}`,
    registryRepository: { registry: repo.registry, repository: repo.repository },
    async getManifest(digest, co = {}) {
      // the top manifest was fetched (and verified) when the source opened: serve those bytes
      if (digest === undefined || digest === top.digest) return { bytes: top.bytes, mediaType: top.mediaType, digest: top.digest };
      return repo.getManifest(digest, co);
    },
    getBlob: (desc, co = {}) => repo.getBlob(desc, co),
    lendBlob: (desc, co = {}) => repo.lendBlob(desc, co),
    getSignatures: (digest, co = {}) => readRegistrySignatures(repo, formatReference(q), digest, sc, co),
    async close() {},
  };
}

/**
 * A registry source (`docker://NAME`). A short name means Docker Hub here, as in skopeo (`busybox` →
 * docker.io/library/busybox:latest); short-name resolution through registries.conf is openPullSource's job.
 * The top manifest is fetched once, when the source opens (one GET, its digest computed from the bytes and checked
 * against Docker-Content-Digest and a digest in the name), and pinned: a tag moving mid-copy cannot mix two images.
 * `registryRepository` lets a target on the same registry mount blobs instead of uploading them.
 */
export async function openDockerSource(ref: Reference, reg: RegistryOptions, o: Cancellable & RegistrySignatureConfig = {}): Promise<OpenedSource> {
  const sc: RegistrySignatureConfig = o.registriesDirs ? { registriesDirs: o.registriesDirs } : {};
  const q = normalizePull(ref);
  const repo = openRepository(q.registry, q.path, reg);
  let top: ManifestBytes;
  try {
    top = await repo.getManifest(q.digest ?? q.tag!, o);
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND')) throw new SkiffError('ENOTFOUND', `image ${formatReference(q)} not found`, { cause: e });
    throw e;
  }
  if (q.digest !== undefined && top.digest !== q.digest) {
    throw new SkiffError('EINTEGRITY', `registry answered ${top.digest} for ${formatReference(q)}`);
  }
  return sourceOver(repo, q, top, sc);
}

/**
 * A registry target (`docker://NAME`): blobs are HEADed before upload and mounted from the source repository
 * when both are on the same registry; child manifests are pushed by digest; the top manifest is pushed under the
 * tag (or by digest when the name has none) when it is written — a registry has no staging, and signatures must
 * follow what it holds: putManifest returns only once the registry confirmed it stores that very digest
 * (Docker-Content-Digest, else a HEAD / GET by tag), so nothing is signed for a manifest the registry rewrote or
 * lost. commit() adds the additional tags.
 */
export async function openDockerTarget(ref: Reference, reg: RegistryOptions, o: Cancellable & RegistrySignatureConfig = {}): Promise<ImageTarget> {
  const sc: RegistrySignatureConfig = o.registriesDirs ? { registriesDirs: o.registriesDirs } : {};
  const q = normalizePull(ref);
  const repo = openRepository(q.registry, q.path, reg);
  repo.warm(o); // the ping runs while the source is read
  let top: { bytes: Uint8Array; mediaType: string } | undefined;
  return {
    name: `docker://${formatReference(q)}`,
    blobScope: `docker://${q.registry}/${q.path}`,
    capabilities: { manifestFormats: ['oci', 'docker'], supportsIndex: true, verifiesBlobs: true, compressesLayers: true },
    async hasManifest(desc, co = {}) {
      const h = await repo.headManifest(q.tag ?? desc.digest, co);
      return h !== undefined && h.digest === desc.digest;
    },
    async hasBlob(desc, co = {}) {
      return (await repo.headBlob(desc.digest, co)) === desc.size;
    },
    async mountBlob(desc, from, co = {}) {
      if (from.registry !== q.registry || from.repository === q.path) return false;
      return repo.mountBlob(desc.digest, from.repository, co);
    },
    putBlob: (desc, body, co = {}) => repo.putBlob(desc, body, co),
    async putManifest(bytes, desc, co) {
      if (co?.top) {
        if (q.tag === undefined && q.digest !== undefined && q.digest !== desc.digest) {
          throw new SkiffError('EINVALID', `cannot push ${desc.digest} as ${formatReference(q)}: the digests differ`, { hint: 'push by tag, or name the digest the copy produces' });
        }
        await repo.putManifest(q.tag ?? desc.digest, bytes, desc.mediaType, co?.signal ? { signal: co.signal } : {});
        top = { bytes, mediaType: desc.mediaType };
        return;
      }
      await repo.putManifest(desc.digest, bytes, desc.mediaType, co?.signal ? { signal: co.signal } : {});
    },
    putSignatures: (digest, sigs, co = {}) => writeRegistrySignatures(repo, formatReference(q), digest, sigs, sc, co),
    async commit(co: CommitOpts = {}) {
      if (!top) throw new SkiffError('EINVALID', 'commit called before the top manifest was written');
      const so = { signal: co.signal };
      for (const t of co.additionalTags ?? []) await repo.putManifest(t, top.bytes, top.mediaType, so);
    },
    async close() {},
  };
}
