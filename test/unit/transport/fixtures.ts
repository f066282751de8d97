// Test helpers: small generated images written into OCI layouts.
import { Readable } from 'node:stream';
import { digestOf } from '../../../shared/oci/digest.ts';
import { Annotation, MediaType, type Compression } from '../../../shared/oci/media-types.ts';
import type { Descriptor, Platform } from '../../../shared/oci/types.ts';
import { layerFromTarBytes } from '../../../shared/image/layer.ts';
import { appendLayers } from '../../../shared/image/mutate.ts';
import { scratchImage } from '../../../shared/image/scratch.ts';
import type { Image } from '../../../shared/image/image.ts';
import { writeImage } from '../../../shared/image/write-image.ts';
import { TarWriter } from '../../../shared/layer/tar-write.ts';
import { openLayout, type Layout } from '../../../shared/store/layout.ts';
import { openOciLayoutSource } from '../../../shared/transport/oci-layout.ts';
import type { OpenedSource } from '../../../shared/transport/types.ts';
import { resolveImage } from '../../../shared/image/index-view.ts';

/** An uncompressed tar holding the given files. */
export async function tarBytes(files: Record<string, string>): Promise<Buffer> {
  const w = new TarWriter({ mtime: new Date(0) });
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of w.stream as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const [name, body] of Object.entries(files)) await w.add({ name, type: 'file', mode: 0o644 }, Buffer.from(body));
  w.finish();
  await done;
  return Buffer.concat(chunks);
}

/** A generated image: `layers` layers with content derived from `seed`; optionally a layer shared by seed. */
export async function makeImage(
  seed: string,
  o: { platform?: Platform; format?: 'oci' | 'docker'; compression?: Compression; layers?: number; shared?: string } = {},
): Promise<Image> {
  let img = scratchImage({ platform: o.platform ?? { os: 'linux', architecture: 'amd64' }, format: o.format ?? 'oci' });
  const docker = o.format === 'docker';
  const c = o.compression ?? 'gzip';
  const mt = docker ? (c === 'gzip' ? MediaType.DockerLayerGzip : MediaType.DockerLayer) : undefined;
  const mk = async (files: Record<string, string>) => layerFromTarBytes(await tarBytes(files), { compression: c, ...(mt ? { mediaType: mt } : {}) });
  if (o.shared !== undefined) img = appendLayers(img, { layer: await mk({ 'shared.txt': `shared ${o.shared}\n`.repeat(50) }), history: { created_by: 'shared' } });
  for (let i = 0; i < (o.layers ?? 2); i++) {
    img = appendLayers(img, { layer: await mk({ [`f${i}.txt`]: `${seed} layer ${i}\n`.repeat(100) }), history: { created_by: `layer ${i}` } });
  }
  return img;
}

/** Opens (creating) a layout and writes `image` into it, tagged `ref` when given. */
export async function putImage(dir: string, image: Image, ref?: string): Promise<{ layout: Layout; desc: Descriptor }> {
  const layout = await openLayout(dir, { create: true });
  const desc = await writeImage({ put: (b, e, o) => layout.blobs.put(b, e, o), has: (d) => layout.blobs.has(d.digest, d.size) }, image);
  if (ref !== undefined) await layout.tag(ref, desc);
  return { layout, desc };
}

/** Writes a 2-platform (linux/amd64 + linux/arm64) OCI index into a layout under `ref`. */
export async function putIndex(dir: string, ref: string, seed = 'multi'): Promise<{ index: Descriptor; amd64: Descriptor; arm64: Descriptor }> {
  const a = await putImage(dir, await makeImage(`${seed}-amd64`, { platform: { os: 'linux', architecture: 'amd64' } }));
  const b = await putImage(dir, await makeImage(`${seed}-arm64`, { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }));
  const amd64: Descriptor = { ...a.desc, platform: { architecture: 'amd64', os: 'linux' } };
  const arm64: Descriptor = { ...b.desc, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } };
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [amd64, arm64] }));
  const index: Descriptor = { mediaType: MediaType.OciIndex, digest: digestOf(bytes), size: bytes.length };
  await a.layout.blobs.put(Readable.from([bytes]), index);
  await a.layout.tag(ref, index);
  return { index, amd64, arm64 };
}

/** Reads an image back through a source and returns its config's diff_ids and layer media types (verifying every layer). */
export async function readBack(src: OpenedSource, platform?: Platform): Promise<{ diffIds: string[]; layerTypes: string[]; digest: string }> {
  const img = await resolveImage(src, platform ? { platform } : {});
  const layers = await img.layers();
  for (const l of layers) for await (const _ of (await l.uncompressed()) as AsyncIterable<Buffer>) void _;
  return {
    diffIds: (await img.config()).rootfs.diff_ids,
    layerTypes: await Promise.all(layers.map((l) => l.mediaType())),
    digest: await img.digest(),
  };
}

/** The ref names in a layout's index.json. */
export async function refNames(dir: string): Promise<string[]> {
  const layout = await openLayout(dir);
  return (await layout.entries()).flatMap((e) => {
    const n = e.annotations?.[Annotation.RefName];
    return n === undefined ? [] : [n];
  });
}

/** Opens an oci: source over `dir:ref`. */
export function ociSource(dir: string, ref?: string): Promise<OpenedSource> {
  return openOciLayoutSource(dir, ref);
}
