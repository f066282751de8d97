import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { DigestingStream } from '../oci/digest.ts';
import { layerMediaType } from '../oci/media-types.ts';
import type { ContainerConfig, Descriptor, Platform } from '../oci/types.ts';
import { layerFromOpener } from '../image/layer.ts';
import { appendLayers, setContainerConfig, setCreated } from '../image/mutate.ts';
import { scratchImage } from '../image/scratch.ts';
import { writeImage } from '../image/write-image.ts';
import { compress, decompress } from '../layer/compression.ts';
import { storeSink } from '../store/sink.ts';
import type { Store } from '../store/store.ts';

/** Options of importTarball. */
export interface ImportTarballOptions {
  /** Full normalised name to tag (already in local-tag form); untagged (dangling) when omitted. */
  name?: string;
  platform?: Platform;
  format?: 'oci' | 'docker';
  /** Container config to set (podman import --change equivalents). */
  config?: ContainerConfig;
  /** The history comment; podman writes "imported from tarball". */
  comment?: string;
  created?: Date;
  signal?: AbortSignal;
}

/**
 * Makes a one-layer image from a root filesystem tarball (plain, gzip or zstd; a path or `-` for a stream), as
 * `podman import` does, and commits it to the store. The tar streams once: decompressed (bomb limits apply),
 * hashed for the diffID, gzip-compressed and hashed again into the store — never buffered. Commit order is
 * layer → config → manifest → index.json, so an interrupted import leaves no tag. Returns the manifest
 * descriptor and the image ID (config digest).
 */
export async function importTarball(store: Store, input: string | Readable, o: ImportTarballOptions = {}): Promise<{ descriptor: Descriptor; id: string }> {
  const so = { signal: o.signal };
  const source = typeof input === 'string' ? createReadStream(input) : input;
  const { stream: plain } = await decompress(source, so);
  const diff = new DigestingStream();
  const compressed = compress(plain.pipe(diff), 'gzip', 1);
  plain.on('error', (e) => diff.destroy(e));
  const [blob] = await Promise.all([store.putBlob(compressed, undefined, so), finished(diff)]);
  const desc: Descriptor = { mediaType: layerMediaType(o.format ?? 'oci', 'gzip'), digest: blob.digest, size: blob.size };
  const layer = layerFromOpener(desc, diff.result, (co) => store.blobs.open(desc, co ?? {}), { verified: true });
  const created = o.created ?? new Date();
  let image = appendLayers(scratchImage({ platform: o.platform, format: o.format ?? 'oci' }), {
    layer,
    history: { created: created.toISOString(), created_by: '/bin/sh -c #(nop) ADD file in /', comment: o.comment ?? 'imported from tarball' },
  });
  image = setCreated(image, created);
  if (o.config) image = setContainerConfig(image, o.config);
  const descriptor = await writeImage(storeSink(store), image, so);
  await store.commitImage(descriptor, { name: o.name, ...so });
  return { descriptor, id: await image.configDigest(so) };
}

