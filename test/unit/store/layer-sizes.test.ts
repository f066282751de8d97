import { readdirSync, statSync } from 'node:fs';
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
      expect(plain!.size).toBe(desc.size + m.config.size + m.layers[0]!.size);
      expect(sized!.size).toBe(desc.size + m.config.size + tarBytes);
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
