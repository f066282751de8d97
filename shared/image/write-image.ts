import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import type { Descriptor } from '../oci/types.ts';
import type { Image } from './image.ts';
import type { BlobSink } from './source.ts';

/**
 * Writes every blob of `image` to `sink` in the documented commit order — layers (bottom first), then the config,
 * then the manifest — and returns the manifest descriptor for the caller to tag (tagging is the caller's last
 * step, so a crash never leaves a tag pointing at missing blobs). Layer bytes stream straight from the layer to
 * the sink, which hashes them while they flow; nothing is read twice. Blobs the sink reports present (`has`) are
 * skipped. Idempotent when the sink is.
 */
export async function writeImage(sink: BlobSink, image: Image, opts: Cancellable = {}): Promise<Descriptor> {
  const o = { signal: opts.signal };
  const present = async (d: Pick<Descriptor, 'digest' | 'size'>) => (sink.has === undefined ? false : sink.has(d, o));
  const layers = await image.layers(o);
  for (const layer of layers) {
    throwIfAborted(opts.signal);
    const d = await layer.descriptor();
    if (await present(d)) continue;
    await sink.put(await layer.compressed(o), { digest: d.digest, size: d.size, mediaType: d.mediaType }, o);
  }
  throwIfAborted(opts.signal);
  const manifest = await image.manifest(o);
  const cfg = manifest.config;
  if (!(await present(cfg))) {
    const bytes = await image.rawConfig(o);
    if (bytes.length !== cfg.size) throw new SkiffError('EBADSIZE', `config is ${bytes.length} bytes, the manifest says ${cfg.size}`);
    await sink.put(bytes, { digest: cfg.digest, size: cfg.size, mediaType: cfg.mediaType }, o);
  }
  throwIfAborted(opts.signal);
  const desc = await image.descriptor(o);
  await sink.put(await image.rawManifest(o), { digest: desc.digest, size: desc.size, mediaType: desc.mediaType }, o);
  return desc;
}
