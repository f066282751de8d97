import { describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../../shared/oci/digest.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import { imageFromSource } from '../../../shared/image/image.ts';
import { indexFromSource, resolveImage } from '../../../shared/image/index-view.ts';
import { parsePlatform } from '../../../shared/image/platform.ts';
import { addTestImage, MemSource, tinyTar } from './mem-source.ts';

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('Image views', () => {
  it('are lazy and memoised (a source that counts calls)', async () => {
    const src = new MemSource();
    const { desc, config } = addTestImage(src);
    const img = imageFromSource(src, { digest: desc.digest });
    expect(src.calls).toEqual({ getManifest: 0, getBlob: 0 });
    expect(await img.digest()).toBe(desc.digest);
    await Promise.all([img.manifest(), img.rawManifest(), img.mediaType(), img.configDigest()]);
    expect(src.calls).toEqual({ getManifest: 1, getBlob: 0 });
    expect(await img.configDigest()).toBe(digestOf(JSON.stringify(config)));
    expect((await img.config()).rootfs.diff_ids).toEqual(config.rootfs.diff_ids);
    await img.rawConfig();
    await img.layers();
    await img.layers();
    expect(src.calls).toEqual({ getManifest: 1, getBlob: 1 });
    const [layer] = await img.layers();
    expect(await layer!.diffId()).toBe(config.rootfs.diff_ids[0]);
    expect(src.calls.getBlob).toBe(1); // layers open nothing until a stream is asked for
    const plain = await readAll(await layer!.uncompressed());
    expect(plain).toEqual(tinyTar('hello.txt', 'hello\n'));
    expect(digestOf(await readAll(await layer!.compressed()))).toBe(await layer!.digest());
    expect(src.calls.getBlob).toBe(3);
  });

  it('retries after a failed load instead of memoising the failure', async () => {
    const src = new MemSource();
    const { desc } = addTestImage(src);
    let fail = true;
    const orig = src.getManifest.bind(src);
    src.getManifest = async (d?: Digest) => {
      if (fail) {
        fail = false;
        throw new Error('transient');
      }
      return orig(d);
    };
    const img = imageFromSource(src, { digest: desc.digest });
    await expect(img.manifest()).rejects.toThrow('transient');
    expect((await img.manifest()).schemaVersion).toBe(2);
  });

  it('verifies digests over the exact bytes and rejects a wrong diffID on uncompressed()', async () => {
    const src = new MemSource();
    const { desc } = addTestImage(src);
    const wrong = digestOf('other');
    await expect(imageFromSource(src, { prefetched: { ...(await src.getManifest(desc.digest)), digest: wrong } }).manifest()).rejects.toMatchObject({ code: 'EINTEGRITY' });
    await expect(imageFromSource(src, { digest: desc.digest, size: desc.size + 1 }).manifest()).rejects.toMatchObject({ code: 'EBADSIZE' });
    await expect(imageFromSource(src, { digest: desc.digest, mediaType: MediaType.DockerManifest }).manifest()).rejects.toMatchObject({ code: 'EINVALID' });
    // a config whose diff_id does not match the layer content
    const m = JSON.parse(Buffer.from((await src.getManifest(desc.digest)).bytes).toString());
    const cfg = JSON.parse(Buffer.from(src.blobs.get(m.config.digest)!).toString());
    cfg.rootfs.diff_ids = [digestOf('nope')];
    m.config = src.addBlob(JSON.stringify(cfg), MediaType.OciConfig);
    const bad = src.addManifest(m, MediaType.OciManifest);
    const [layer] = await imageFromSource(src, { digest: bad.digest }).layers();
    await expect(readAll(await layer!.uncompressed())).rejects.toMatchObject({ code: 'EINTEGRITY' });
  });

  it('rejects a config with a different number of diff_ids than layers', async () => {
    const src = new MemSource();
    const { desc } = addTestImage(src);
    const m = JSON.parse(Buffer.from((await src.getManifest(desc.digest)).bytes).toString());
    m.layers = [...m.layers, ...m.layers];
    const d = src.addManifest(m, MediaType.OciManifest);
    await expect(imageFromSource(src, { digest: d.digest }).layers()).rejects.toMatchObject({ code: 'EINVALID' });
  });
});

describe('Index views', () => {
  it('select a platform and open the image', async () => {
    const src = new MemSource();
    const amd = addTestImage(src, { arch: 'amd64', layerText: 'amd' }).desc;
    const arm = addTestImage(src, { arch: 'arm64', variant: 'v8', layerText: 'arm' }).desc;
    const idx = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    };
    const top = src.addManifest(idx, MediaType.OciIndex, true);
    const view = indexFromSource(src, { digest: top.digest });
    expect((await view.select(parsePlatform('linux/aarch64'))).digest).toBe(arm.digest);
    await expect(view.select(parsePlatform('linux/s390x'))).rejects.toMatchObject({ code: 'ENOTFOUND', hint: expect.stringContaining('linux/arm64/v8') });
    const img = view.image(await view.select(parsePlatform('linux/amd64')));
    expect((await img.config()).architecture).toBe('amd64');
    expect(() => view.childIndex(amd)).toThrow(expect.objectContaining({ code: 'EINVALID' }));
    const resolved = await resolveImage(src, { platform: parsePlatform('linux/arm64') });
    expect(await resolved.digest()).toBe(arm.digest);
  });

  it('LS-16 an index chain 1000 deep stops at the depth limit', async () => {
    const src = new MemSource();
    const leaf = addTestImage(src, { top: false }).desc;
    let child = { ...leaf, platform: { os: 'linux', architecture: 'amd64' } };
    for (let i = 0; i < 1000; i++) {
      const d = src.addManifest({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [child] }, MediaType.OciIndex, i === 999);
      child = { ...d, platform: { os: 'linux', architecture: 'amd64' } };
    }
    src.calls.getManifest = 0;
    await expect(resolveImage(src, { platform: parsePlatform('linux/amd64') })).rejects.toMatchObject({ code: 'ELIMIT' });
    expect(src.calls.getManifest).toBeLessThanOrEqual(10);
    // a short chain within the limit resolves
    const short = new MemSource();
    const l2 = addTestImage(short, { top: false }).desc;
    const i1 = short.addManifest({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ ...l2, platform: { os: 'linux', architecture: 'amd64' } }] }, MediaType.OciIndex);
    short.addManifest({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ ...i1, platform: { os: 'linux', architecture: 'amd64' } }] }, MediaType.OciIndex, true);
    expect(await (await resolveImage(short, { platform: parsePlatform('linux/amd64') })).digest()).toBe(l2.digest);
    await expect(resolveImage(short, { platform: parsePlatform('linux/amd64'), limits: { maxIndexDepth: 0 } })).rejects.toMatchObject({ code: 'ELIMIT' });
  });
});

