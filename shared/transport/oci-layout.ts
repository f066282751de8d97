import { SkiffError, type Cancellable } from '../errors.ts';
import { digestOf, type Digest } from '../oci/digest.ts';
import { Annotation } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import type { ManifestBytes } from '../image/source.ts';
import { checkImageComplete } from '../store/commit.ts';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openLayout, type Layout } from '../store/layout.ts';
import { withLock } from '../store/lock.ts';
import { dropSession, sessionFor, staleSessionIds } from '../store/session.ts';
import { DOCUMENT_CAP, sniffMediaType } from './files.ts';
import type { CommitOpts, ImageTarget, OpenedSource } from './types.ts';

function refNameOf(d: Descriptor): string | undefined {
  return d.annotations?.[Annotation.RefName];
}

/**
 * The index.json entry an `oci:PATH[:REF]` name points at: the entry whose ref.name annotation is REF, or —
 * without REF — the only entry (EINVALID when there are several, as skopeo; ENOTFOUND when none).
 */
export async function selectLayoutEntry(layout: Layout, refName: string | undefined, display: string, o: Cancellable = {}): Promise<Descriptor> {
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
async function readManifestBlob(layout: Layout, desc: { digest: Digest; size?: number; mediaType?: string }, o: Cancellable): Promise<ManifestBytes> {
  const bytes = await layout.blobs.readBytes(desc, { cap: DOCUMENT_CAP, ...o });
  return { bytes, mediaType: desc.mediaType ?? sniffMediaType(bytes), digest: desc.digest };
}

/**
 * A source over an OCI image layout directory. Reads never lock (index.json is replaced atomically);
 * every blob stream is verified at EOF by the layout's BlobStore.
 */
export async function openOciLayoutSource(dir: string, refName: string | undefined, o: Cancellable & { display?: string; onClose?: () => Promise<void>; digest?: Digest } = {}): Promise<OpenedSource> {
  const display = o.display ?? `oci:${dir}${refName === undefined ? '' : `:${refName}`}`;
  const layout = await openLayout(dir, o.signal ? { signal: o.signal } : {});
  // `digest` (BuildKit's oci-layout://PATH@DIGEST): that manifest or index blob, named in index.json or not
  const top: { digest: Digest; size?: number; mediaType?: string } = o.digest !== undefined ? { digest: o.digest } : await selectLayoutEntry(layout, refName, display, o);
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
 * index.json updates run under the layout's lock, so concurrent writers lose no entry (LS-09). close() without
 * a commit removes the layout when this target created it (the dir, or the layout files in an empty dir that
 * existed) and nobody else wrote into it; a layout that existed before is never removed.
 */
export async function openOciLayoutTarget(dir: string, refName: string | undefined, o: Cancellable = {}): Promise<ImageTarget> {
  const existed = await lstat(dir).then(() => true, () => false);
  const hadLayout = existed && (await lstat(join(dir, 'oci-layout')).then(() => true, () => false));
  const layout = await openLayout(dir, { create: true, signal: o.signal });
  const key = layout.dir;
  openTargets.set(key, (openTargets.get(key) ?? 0) + 1);
  let top: Descriptor | undefined;
  let committed = false;
  let closed = false;
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
    async putLentBlob(desc, body, co = {}) {
      await layout.blobs.put(body, { digest: desc.digest, size: desc.size }, co);
    },
    async putManifest(bytes, desc, co) {
      // A manifest already stored under its digest is not written again (no temp file, fsync or session): the
      // bytes must still hash to that digest, and the stored blob was verified when it was written.
      const stored = digestOf(bytes) === desc.digest && bytes.length === desc.size && (await layout.blobs.has(desc.digest, desc.size, co ?? {}));
      if (!stored) await layout.blobs.put(bytes, { digest: desc.digest, size: desc.size }, co?.signal ? { signal: co.signal } : {});
      if (co?.top) top = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
    },
    async commit(co: CommitOpts = {}) {
      if (!top) throw new SkiffError('EINVALID', 'commit called before the top manifest was written');
      const so = { signal: co.signal };
      if (!co.incomplete) await checkImageComplete(layout, top, so);
      const d = top;
      if (refName !== undefined) {
        await layout.tag(refName, d, so);
        committed = true;
        return;
      }
      await layout.update((entries) => {
        if (!entries.some((e) => e.digest === d.digest && refNameOf(e) === undefined)) entries.push({ ...d });
      }, { ...so, unchangedWithoutLock: true });
      committed = true;
    },
    async close() {
      if (closed) return;
      closed = true;
      const left = (openTargets.get(key) ?? 1) - 1;
      if (left > 0) openTargets.set(key, left);
      else openTargets.delete(key);
      // other targets of this process still writing into the layout share its session: leave it to them
      if (committed || hadLayout || left > 0) return;
      await discardCreatedLayout(dir, existed);
    },
  };
}

/** Targets open in this process per layout dir (they share one session; see close()). */
const openTargets = new Map<string, number>();

/** What openLayout creates in a new layout (besides the dir itself). */
const LAYOUT_PARTS = ['oci-layout', 'index.json', 'blobs', '.skiff-tmp'];

/**
 * Removes a layout this process created for a copy that did not commit: the whole dir when it did not exist
 * before, else only the parts openLayout made. Never when index.json names an image by now or another
 * process is writing into it (a live session in `.skiff-tmp`): then the layout is someone's, and stays.
 */
async function discardCreatedLayout(dir: string, dirExisted: boolean): Promise<void> {
  const tmpRoot = join(dir, '.skiff-tmp');
  const mine = sessionFor(tmpRoot);
  await mine.close();
  dropSession(tmpRoot);
  const lockPath = join(dir, '.skiff-index.lock');
  await withLock(lockPath, {}, async () => {
    const layout = await openLayout(dir).catch(() => undefined);
    if (!layout || (await layout.entries()).length > 0) return;
    const sessions = (await readdir(tmpRoot).catch(() => [] as string[])).filter((n) => !n.endsWith('.lock'));
    const stale = new Set(await staleSessionIds(tmpRoot));
    if (sessions.some((id) => !stale.has(id))) return; // another writer is at work in it
    if (!dirExisted) await rm(dir, { recursive: true, force: true });
    else for (const p of LAYOUT_PARTS) await rm(join(dir, p), { recursive: true, force: true });
  });
  if (dirExisted) await rm(lockPath, { force: true });
}
