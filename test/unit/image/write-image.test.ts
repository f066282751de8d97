import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Digester, digestMismatch, type Digest } from '../../../shared/oci/digest.ts';
import { imageFromSource } from '../../../shared/image/image.ts';
import { layerFromTarBytes } from '../../../shared/image/layer.ts';
import { appendLayers } from '../../../shared/image/mutate.ts';
import type { BlobSink } from '../../../shared/image/source.ts';
import { writeImage } from '../../../shared/image/write-image.ts';
import { addTestImage, MemSource, tinyTar } from './mem-source.ts';

/** A sink that records the order of puts, hashes while bytes flow and rejects mismatches. */
class RecordingSink implements BlobSink {
  order: { digest: Digest; mediaType: string | undefined; streamed: boolean }[] = [];
  stored = new Map<string, number>();
  async put(body: Readable | Uint8Array, expect: { digest: Digest; size: number; mediaType?: string }) {
    const h = new Digester();
    const streamed = !(body instanceof Uint8Array);
    if (body instanceof Uint8Array) h.update(body);
    else for await (const c of body) h.update(c as Buffer);
    const d = h.digest();
    if (d !== expect.digest) throw digestMismatch(expect.digest, d);
    this.order.push({ digest: d, mediaType: expect.mediaType, streamed });
    this.stored.set(d, h.size);
    return { ...expect };
  }
  async has(d: { digest: Digest }) {
    return this.stored.has(d.digest);
  }
}

describe('writeImage', () => {
  it('LS-19 writes layers, then config, then manifest, streaming layers, and returns the manifest descriptor', async () => {
    const src = new MemSource();
    const { desc } = addTestImage(src);
    const img = appendLayers(imageFromSource(src, { digest: desc.digest }), { layer: layerFromTarBytes(tinyTar('b', 'b')), history: {} });
    const sink = new RecordingSink();
    const out = await writeImage(sink, img);
    const m = await img.manifest();
    expect(sink.order.map((x) => x.digest)).toEqual([m.layers[0]!.digest, m.layers[1]!.digest, m.config.digest, await img.digest()]);
    expect(sink.order.slice(0, 2).every((x) => x.streamed)).toBe(true);
    expect(out).toEqual({ mediaType: await img.mediaType(), digest: await img.digest(), size: (await img.rawManifest()).length });
    // idempotent: a second write skips present layers and config
    src.calls.getBlob = 0;
    sink.order = [];
    await writeImage(sink, img);
    expect(sink.order.map((x) => x.digest)).toEqual([await img.digest()]);
    expect(src.calls.getBlob).toBe(0);
  });

  it('stops before the manifest when a layer is corrupt', async () => {
    const src = new MemSource();
    const { desc, manifest } = addTestImage(src);
    src.blobs.set(manifest.layers[0]!.digest, Buffer.from('corrupt'));
    const sink = new RecordingSink();
    await expect(writeImage(sink, imageFromSource(src, { digest: desc.digest }))).rejects.toMatchObject({ code: expect.stringMatching(/EINTEGRITY|EBADSIZE/) });
    expect(sink.order).toEqual([]);
  });

  it('honours an aborted signal', async () => {
    const src = new MemSource();
    const { desc } = addTestImage(src);
    const ac = new AbortController();
    ac.abort();
    await expect(writeImage(new RecordingSink(), imageFromSource(src, { digest: desc.digest }), { signal: ac.signal })).rejects.toMatchObject({ code: 'EABORT' });
  });
});
