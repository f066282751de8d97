import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { composeImage, rewriteIndex } from '../../../shared/image/compose.ts';
import { replaceLayers } from '../../../shared/image/mutate.ts';
import { layerFromTarBytes } from '../../../shared/image/layer.ts';
import type { BlobSink } from '../../../shared/image/source.ts';
import { writeImage } from '../../../shared/image/write-image.ts';
import { MAX_DOCUMENT_BYTES } from '../../../shared/oci/document-size.ts';
import { digestOf, type Digest } from '../../../shared/oci/digest.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import type { ImageConfig } from '../../../shared/oci/types.ts';

const config = (diffIds: Digest[], extra: Partial<ImageConfig> = {}): ImageConfig => ({ architecture: 'amd64', os: 'linux', config: { Env: ['A=1'] }, rootfs: { type: 'layers', diff_ids: diffIds }, history: [], ...extra });

/** A sink that records what is put, in order, and has the blobs listed in `present`. */
function recordingSink(present: Set<string> = new Set()): BlobSink & { puts: string[] } {
  const puts: string[] = [];
  return {
    puts,
    has: async (d) => present.has(d.digest),
    put: async (body, expect) => {
      const bytes = body instanceof Uint8Array ? Buffer.from(body) : Buffer.concat(await (body as Readable).toArray());
      if (digestOf(bytes) !== expect.digest) throw new Error('unverified put');
      puts.push(expect.mediaType ?? '');
    },
  };
}

describe('composeImage: the one image writer', () => {
  it('serialises config then manifest in the spec key order and writes blobs → config → manifest', async () => {
    const layer = layerFromTarBytes(Buffer.alloc(1024));
    const d = await layer.descriptor();
    const img = composeImage({ config: config([await layer.diffId()]), layers: [{ layer, descriptor: d }], annotations: { a: 'b' } });
    const cfgBytes = Buffer.from(JSON.stringify(config([await layer.diffId()])));
    expect(Buffer.from(await img.rawConfig()).equals(cfgBytes)).toBe(true);
    expect(Buffer.from(await img.rawManifest()).toString()).toBe(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: digestOf(cfgBytes), size: cfgBytes.length }, layers: [d], annotations: { a: 'b' } }),
    );
    expect(await img.configDigest()).toBe(digestOf(cfgBytes));
    const sink = recordingSink();
    const desc = await writeImage(sink, img);
    expect(sink.puts).toEqual([MediaType.OciLayerGzip, MediaType.OciConfig, MediaType.OciManifest]);
    expect(desc).toEqual({ mediaType: MediaType.OciManifest, digest: await img.digest(), size: (await img.rawManifest()).length });
    // a layer the sink has is claimed, not rewritten
    const again = recordingSink(new Set([d.digest]));
    await writeImage(again, img);
    expect(again.puts).toEqual([MediaType.OciConfig, MediaType.OciManifest]);
  });

  it('maps layer types with the one table for Docker, drops annotations there, and refuses zstd', async () => {
    const layer = layerFromTarBytes(Buffer.alloc(512));
    const img = composeImage({ config: config([await layer.diffId()]), layers: [{ layer, descriptor: await layer.descriptor() }], format: 'docker', annotations: { a: 'b' } });
    const m = await img.manifest();
    expect(m.mediaType).toBe(MediaType.DockerManifest);
    expect(m.config.mediaType).toBe(MediaType.DockerConfig);
    expect(m.layers[0]!.mediaType).toBe(MediaType.DockerLayerGzip);
    expect(await (await img.layers())[0]!.mediaType()).toBe(MediaType.DockerLayerGzip);
    expect(m.annotations).toBeUndefined();
    const z = layerFromTarBytes(Buffer.alloc(512), { compression: 'zstd' });
    expect(() => composeImage({ config: config([]), layers: [{ layer: z, descriptor: { mediaType: MediaType.OciLayerZstd, digest: digestOf('x'), size: 1 } }], format: 'docker' })).toThrow(
      expect.objectContaining({ code: 'EUNSUPPORTED' }),
    );
  });

  it('checks the document limit before anything is stored', () => {
    const big = config([], { config: { Env: [`X=${'y'.repeat(MAX_DOCUMENT_BYTES)}`] } });
    expect(() => composeImage({ config: big, layers: [] })).toThrow(expect.objectContaining({ code: 'ELIMIT', message: expect.stringMatching(/^the image config would be/) }));
  });
});

describe('the writer used by copy: replaceLayers and rewriteIndex', () => {
  it('replaceLayers swaps layer blobs one for one and keeps the config (diffIDs) as it was', async () => {
    const gz = layerFromTarBytes(Buffer.alloc(1024));
    const zs = layerFromTarBytes(Buffer.alloc(1024), { compression: 'zstd' });
    const base = composeImage({ config: config([await gz.diffId()]), layers: [{ layer: gz, descriptor: await gz.descriptor() }], annotations: { k: 'v' } });
    const next = replaceLayers(base, [zs]);
    const m = await next.manifest();
    expect(m.layers).toEqual([await zs.descriptor()]);
    expect(m.annotations).toEqual({ k: 'v' });
    expect(await next.configDigest()).toBe(await base.configDigest());
    const sink = recordingSink(new Set([(await base.manifest()).config.digest]));
    await writeImage(sink, next);
    expect(sink.puts).toEqual([MediaType.OciLayerZstd, MediaType.OciManifest]);
    await expect(replaceLayers(base, []).manifest()).rejects.toMatchObject({ code: 'EINVALID' });
  });

  it('rewriteIndex lists new children, keeps other fields, converts the type and checks the limit', () => {
    const orig = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [], 'x-extra': 1 }));
    const child = { mediaType: MediaType.OciManifest, digest: digestOf('c'), size: 1 };
    const r = rewriteIndex(orig, [child], 'oci');
    expect(JSON.parse(Buffer.from(r.bytes).toString())).toEqual({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [child], 'x-extra': 1 });
    expect(r.mediaType).toBe(MediaType.OciIndex);
    expect(rewriteIndex(Buffer.from('{"schemaVersion":2,"manifests":[]}'), [child]).mediaType).toBeUndefined();
    const many = Array.from({ length: 40_000 }, () => child);
    expect(() => rewriteIndex(orig, many)).toThrow(expect.objectContaining({ code: 'ELIMIT' }));
  });
});
