import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { openStoreTarget } from '../../../shared/transport/store.ts';
import { digestOf } from '../../../shared/oci/digest.ts';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxTarball, hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { openStore } from '../../../shared/store/store.ts';
import { LayerSizes } from '../../../shared/store/layer-sizes.ts';
import { listImages } from '../../../shared/store/list-images.ts';
import { parseManifest } from '../../../shared/oci/validate.ts';

describe.skipIf(!hasBusybox)('image sizes as podman counts them', () => {
  let s: Awaited<ReturnType<typeof scratchDir>>;
  let root: string;
  beforeAll(async () => {
    s = await scratchDir('skiff-sizes-');
    root = join(s.dir, 'store');
    await makeBusyboxImage(root, s.dir);
  }, 60_000);
  afterAll(async () => s?.cleanup());

  it('a gzip layer counts its uncompressed bytes, decompressed once and remembered under the cache', async () => {
    const store = await openStore(root);
    try {
      const tarBytes = statSync(busyboxTarball(s.dir)).size;
      const [plain] = await listImages(store.layout);
      const notes = join(store.paths.cache, 'layer-sizes');
      const [sized] = await listImages(store.layout, { sizes: new LayerSizes(notes, store.layout.blobs) });
      const desc = (await store.layout.entries())[0]!;
      const m = parseManifest(await store.blobs.readBytes(desc), { mediaType: desc.mediaType }).manifest;
      // the layer is stored gzip-compressed, smaller than its tar
      expect(m.layers[0]!.size).toBeLessThan(tarBytes);
      expect(plain!.size).toBe(2 * desc.size + m.config.size + m.layers[0]!.size);
      // podman's count: the manifest twice (containers/storage keeps it under two keys), the config, the tar
      expect(sized!.size).toBe(2 * desc.size + m.config.size + tarBytes);
      expect(readdirSync(notes)).toEqual([m.layers[0]!.digest.slice(7)]);
      // a second reader takes the note (a wrong note would show: it is trusted, as a blob never changes)
      const again = new LayerSizes(notes, store.layout.blobs);
      expect(await again.uncompressed(m.layers[0]!)).toBe(tarBytes);
      // an uncompressed layer is its descriptor's size, nothing read or written
      expect(await again.uncompressed({ ...m.layers[0]!, mediaType: 'application/vnd.oci.image.layer.v1.tar', size: 42 })).toBe(42);
      expect(readdirSync(notes)).toHaveLength(1);
    } finally {
      await store.close();
    }
  });
});

describe('layer sizes counted while a layer streams into the store', () => {
  let s: Awaited<ReturnType<typeof scratchDir>>;
  beforeAll(async () => {
    s = await scratchDir('skiff-sizes-in-');
  });
  afterAll(async () => s?.cleanup());

  const put = async (root: string, mediaType: string, bytes: Buffer) => {
    const t = await openStoreTarget(root, {});
    try {
      const desc = { mediaType, digest: digestOf(bytes), size: bytes.length };
      const chunks = Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536));
      await t.putBlob(desc, Readable.from(chunks));
      return desc;
    } finally {
      await t.close();
    }
  };

  it('a gzip and a zstd layer put through the store target leave their uncompressed size in the cache, as LayerSizes reads it', async () => {
    const root = join(s.dir, 'store');
    // enough that the counting decompressor still has a backlog when the blob is written (it must finish it)
    const tar = Buffer.concat([randomBytes(12 << 20), Buffer.alloc(40 << 20)]);
    const notes = join(root, 'cache', 'layer-sizes');
    for (const [mt, z] of [
      ['application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(tar)],
      ['application/vnd.oci.image.layer.v1.tar+zstd', zstdCompressSync(tar)],
    ] as const) {
      const desc = await put(root, mt, z);
      expect(readFileSync(join(notes, desc.digest.slice(7)), 'utf8')).toBe(`${tar.length}\n`);
      const store = await openStore(root);
      try {
        // the note is what a listing reads: a blob that is not there still reports its size
        await rm(join(root, 'images', 'blobs', 'sha256', desc.digest.slice(7)));
        expect(await new LayerSizes(notes, store.blobs).uncompressed(desc)).toBe(tar.length);
      } finally {
        await store.close();
      }
    }
  });

  it('bytes that do not decompress are stored (the digest is what counts) and leave no note; a plain tar needs none', async () => {
    const root = join(s.dir, 'store-bad');
    const junk = randomBytes(5000);
    const desc = await put(root, 'application/vnd.oci.image.layer.v1.tar+gzip', junk);
    const store = await openStore(root);
    try {
      expect(await store.blobs.has(desc.digest, desc.size)).toBe(true);
    } finally {
      await store.close();
    }
    await put(root, 'application/vnd.oci.image.layer.v1.tar', randomBytes(3000));
    expect(existsSync(join(root, 'cache', 'layer-sizes'))).toBe(false);
  });
});
