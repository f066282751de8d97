import { SkiffError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { Annotation } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import type { ManifestBytes } from '../image/source.ts';
import { checkImageComplete } from '../store/commit.ts';
import { openLayout, type Layout } from '../store/layout.ts';
import { DOCUMENT_CAP, sniffMediaType } from './files.ts';
import type { CallOpts, CommitOpts, ImageTarget, OpenedSource } from './types.ts';

function refNameOf(d: Descriptor): string | undefined {
  return d.annotations?.[Annotation.RefName];
}

/**
 * The index.json entry an `oci:PATH[:REF]` name points at: the entry whose ref.name annotation is REF, or —
 * without REF — the only entry (EINVALID when there are several, as skopeo; ENOTFOUND when none).
 */
export async function selectLayoutEntry(layout: Layout, refName: string | undefined, display: string, o: CallOpts = {}): Promise<Descriptor> {
  const entries = await layout.entries(o);
  if (refName !== undefined) {
    const e = entries.find((d) => refNameOf(d) === refName);
    if (!e) throw new SkiffError('ENOTFOUND', `no image named ${JSON.stringify(refName)} in ${display}`);
    return e;
  }
  if (entries.length === 0) throw new SkiffError('ENOTFOUND', `no image in ${display}`);
  if (entries.length > 1) {
    throw new SkiffError('EINVALID', `${display} holds ${entries.length} images; name one`, { hint: 'append :REF to the layout path, e.g. oci:/path:latest' });
  }
  return entries[0]!;
}

/** Manifest bytes of a layout blob, read under the document cap and verified; media type from `declared` or sniffed. */
async function readManifestBlob(layout: Layout, desc: { digest: Digest; size?: number; mediaType?: string }, o: CallOpts): Promise<ManifestBytes> {
  const bytes = await layout.blobs.readBytes(desc, { cap: DOCUMENT_CAP, ...o });
  return { bytes, mediaType: desc.mediaType ?? sniffMediaType(bytes), digest: desc.digest };
}

/**
 * A source over an OCI image layout directory. Reads never lock (index.json is replaced atomically);
 * every blob stream is verified at EOF by the layout's BlobStore.
 */
export async function openOciLayoutSource(dir: string, refName: string | undefined, o: CallOpts & { display?: string; onClose?: () => Promise<void> } = {}): Promise<OpenedSource> {
  const display = o.display ?? `oci:${dir}${refName === undefined ? '' : `:${refName}`}`;
  const layout = await openLayout(dir, o.signal ? { signal: o.signal } : {});
  const top = await selectLayoutEntry(layout, refName, display, o);
  let closed = false;
  return {
    name: display,
    async getManifest(digest, co = {}) {
      if (digest === undefined || digest === top.digest) return readManifestBlob(layout, top, co);
      return readManifestBlob(layout, { digest }, co);
    },
    getBlob: (desc, co = {}) => layout.blobs.open(desc, co),
    async close() {
      if (closed) return;
      closed = true;
      await o.onClose?.();
    },
  };
}

/**
 * A target writing into an OCI image layout (created, dirs 0700, when missing). Blobs and manifests go
 * straight into blobs/sha256 (verified, atomic, idempotent); nothing is named before commit(), which checks
 * that everything the top manifest references exists and then records it in index.json under REF (the
 * `org.opencontainers.image.ref.name` annotation) — or, without REF, as an unnamed entry, as skopeo does.
 * index.json updates run under the layout's lock, so concurrent writers lose no entry (LS-09).
 */
export async function openOciLayoutTarget(dir: string, refName: string | undefined, o: CallOpts = {}): Promise<ImageTarget> {
  const layout = await openLayout(dir, { create: true, ...(o.signal ? { signal: o.signal } : {}) });
  let top: Descriptor | undefined;
  return {
    name: `oci:${dir}${refName === undefined ? '' : `:${refName}`}`,
    blobScope: `oci:${layout.dir}`,
    capabilities: { manifestFormats: ['oci'], supportsIndex: true, verifiesBlobs: true },
    async hasManifest(desc, co = {}) {
      const entries = await layout.entries(co);
      const hit = entries.some((e) => e.digest === desc.digest && (refName === undefined ? refNameOf(e) === undefined : refNameOf(e) === refName));
      return hit && (await layout.blobs.has(desc.digest, desc.size, co));
    },
    hasBlob: (desc, co = {}) => layout.blobs.has(desc.digest, desc.size, co),
    async putBlob(desc, body, co = {}) {
      await layout.blobs.put(body, { digest: desc.digest, size: desc.size }, co);
    },
    async putManifest(bytes, desc, co) {
      await layout.blobs.put(bytes, { digest: desc.digest, size: desc.size }, co?.signal ? { signal: co.signal } : {});
      if (co?.top) top = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
    },
    async commit(co: CommitOpts = {}) {
      if (!top) throw new SkiffError('EINVALID', 'commit called before the top manifest was written');
      const so = co.signal ? { signal: co.signal } : {};
      if (!co.incomplete) await checkImageComplete(layout, top, so);
      const d = top;
      if (refName !== undefined) {
        await layout.tag(refName, d, so);
        return;
      }
      await layout.update((entries) => {
        if (!entries.some((e) => e.digest === d.digest && refNameOf(e) === undefined)) entries.push({ ...d });
      }, so);
    },
    async close() {},
  };
}
