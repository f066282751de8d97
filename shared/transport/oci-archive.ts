import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { SkiffError, type Cancellable } from '../errors.ts';
import { digestHex, parseDigest, type Digest } from '../oci/digest.ts';
import { Annotation, MediaType } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import { LAYOUT_VERSION } from '../store/layout.ts';
import { ArchiveWriter } from './archive-writer.ts';
import { extractArchive } from './extract.ts';
import { verifying } from './files.ts';
import { openOciLayoutSource } from './oci-layout.ts';
import type { CommitOpts, ImageTarget, OpenedSource } from './types.ts';

/**
 * A source over `oci-archive:FILE[:REF]`: the tar is streamed once into a private temp directory (member names
 * confined, only files and directories) and read as an OCI layout from there; close() removes it.
 */
export async function openOciArchiveSource(file: string, refName: string | undefined, o: Cancellable & { tmpDir?: string } = {}): Promise<OpenedSource> {
  const tmp = await mkdtemp(join(o.tmpDir ?? tmpdir(), 'skiff-oci-archive-'));
  try {
    await extractArchive(resolve(file), tmp, o.signal ? { signal: o.signal } : {});
    return await openOciLayoutSource(tmp, refName, {
      signal: o.signal,
      display: `oci-archive:${file}${refName === undefined ? '' : `:${refName}`}`,
      onClose: () => rm(tmp, { recursive: true, force: true }),
    });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * A target writing `oci-archive:FILE[:REF]`: blobs stream straight into the tar as they arrive (their sizes
 * are known from the descriptors; verified while streaming — a mismatch breaks the archive), index.json and
 * oci-layout are written last, and the file appears at FILE only on commit (temp + fsync + rename).
 * close() without commit leaves nothing.
 */
export async function openOciArchiveTarget(file: string, refName: string | undefined, _o: Cancellable = {}): Promise<ImageTarget> {
  const w = await ArchiveWriter.create(resolve(file));
  const written = new Set<Digest>();
  let top: Descriptor | undefined;
  await w.add('blobs', 'directory');
  await w.add('blobs/sha256', 'directory');
  const name = `oci-archive:${file}${refName === undefined ? '' : `:${refName}`}`;
  return {
    name,
    blobScope: `${name}#${w.tmp}`,
    capabilities: { manifestFormats: ['oci'], supportsIndex: true },
    hasBlob: async (desc) => written.has(desc.digest),
    async putBlob(desc, body) {
      const d = parseDigest(desc.digest);
      if (written.has(d)) {
        body.destroy();
        return;
      }
      await w.add(`blobs/sha256/${digestHex(d)}`, 'file', verifying(body, desc), desc.size);
      written.add(d);
    },
    async putManifest(bytes, desc, co) {
      const d = parseDigest(desc.digest);
      if (!written.has(d)) {
        const b = Buffer.from(bytes);
        await w.add(`blobs/sha256/${digestHex(d)}`, 'file', verifying(Readable.from([b]), desc), desc.size);
        written.add(d);
      }
      if (co?.top) top = { mediaType: desc.mediaType, digest: d, size: desc.size };
    },
    async commit(_co: CommitOpts = {}) {
      if (!top) throw new SkiffError('EINVALID', 'commit called before the top manifest was written');
      const entry: Descriptor = refName === undefined ? top : { ...top, annotations: { [Annotation.RefName]: refName } };
      const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [entry] };
      await w.add('index.json', 'file', Buffer.from(JSON.stringify(index)));
      await w.add('oci-layout', 'file', Buffer.from(JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })));
      await w.commit();
    },
    close: () => w.abort(),
  };
}
