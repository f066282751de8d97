import { describe, expect, it } from 'vitest';
import { digestOf } from '../../../shared/oci/digest.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import { parseImageConfig, parseManifest } from '../../../shared/oci/validate.ts';
import { imageFromSource } from '../../../shared/image/image.ts';
import { layerFromTarBytes } from '../../../shared/image/layer.ts';
import {
  appendEmptyHistory,
  appendLayers,
  convertFormat,
  editConfig,
  setContainerConfig,
  setCreated,
  setHistory,
} from '../../../shared/image/mutate.ts';
import { addTestImage, MemSource, tinyTar } from './mem-source.ts';

function base() {
  const src = new MemSource();
  const { desc } = addTestImage(src);
  return { src, img: imageFromSource(src, { digest: desc.digest }), desc };
}

describe('mutate', () => {
  it('append layer keeps diff_ids, history and manifest layers consistent; original untouched', async () => {
    const { img, desc } = base();
    const beforeManifest = Buffer.from(await img.rawManifest());
    const beforeConfig = Buffer.from(await img.rawConfig());
    const l2 = layerFromTarBytes(tinyTar('b.txt', 'b'), { compression: 'gzip' });
    const l3 = layerFromTarBytes(tinyTar('c.txt', 'c'), { compression: 'zstd' });
    const out = appendLayers(img, { layer: l2, history: { created_by: 'RUN b' } }, { layer: l3 });
    const m = await out.manifest();
    const c = await out.config();
    expect(m.layers).toHaveLength(3);
    expect(m.layers[1]).toEqual(await l2.descriptor());
    expect(m.layers[2]!.mediaType).toBe(MediaType.OciLayerZstd);
    expect(c.rootfs.diff_ids).toEqual([(await img.config()).rootfs.diff_ids[0], await l2.diffId(), await l3.diffId()]);
    expect(c.history).toEqual([{ created_by: 'ADD hello.txt' }, { created_by: 'RUN b' }, {}]);
    // digests are over the exact bytes, config descriptor matches the new config
    expect(await out.digest()).toBe(digestOf(await out.rawManifest()));
    expect(m.config.digest).toBe(digestOf(await out.rawConfig()));
    expect(m.config.size).toBe((await out.rawConfig()).length);
    expect(await out.configDigest()).not.toBe(await img.configDigest());
    parseManifest(await out.rawManifest());
    parseImageConfig(await out.rawConfig());
    // layer streams of the new image decompress and verify
    const layers = await out.layers();
    let n = 0;
    for await (const ch of await layers[2]!.uncompressed()) n += (ch as Buffer).length;
    expect(n).toBe(tinyTar('c.txt', 'c').length);
    // the original is untouched
    expect(Buffer.from(await img.rawManifest())).toEqual(beforeManifest);
    expect(Buffer.from(await img.rawConfig())).toEqual(beforeConfig);
    expect(await img.digest()).toBe(desc.digest);
    expect(await img.layers()).toHaveLength(1);
    expect(() => appendLayers(img, { layer: l2, history: { empty_layer: true } })).toThrow(expect.objectContaining({ code: 'EINVALID' }));
  });

  it('edits config fields, created time and history, returning new images', async () => {
    const { img } = base();
    const a = setContainerConfig(img, { Env: ['A=1'], Cmd: undefined, Entrypoint: ['/bin/sh', '-c'], Labels: { x: 'y' } });
    const ca = await a.config();
    expect(ca.config).toEqual({ Env: ['A=1'], Entrypoint: ['/bin/sh', '-c'], Labels: { x: 'y' } });
    expect((await img.config()).config).toEqual({ Env: ['PATH=/usr/bin:/bin'], Cmd: ['sh'] });
    const t = setCreated(a, new Date(0));
    expect((await t.config()).created).toBe('1970-01-01T00:00:00.000Z');
    expect(() => setCreated(a, 'not a date')).toThrow(expect.objectContaining({ code: 'EINVALID' }));
    const h = appendEmptyHistory(t, { created_by: 'ENV A=1' });
    expect((await h.config()).history).toEqual([{ created_by: 'ADD hello.txt' }, { created_by: 'ENV A=1', empty_layer: true }]);
    const sh = setHistory(h, [{ created_by: 'x' }, { created_by: 'y', empty_layer: true }]);
    expect((await sh.config()).history).toHaveLength(2);
    await expect(setHistory(h, [{ created_by: 'x' }, { created_by: 'y' }]).config()).rejects.toMatchObject({ code: 'EINVALID' });
    await expect(editConfig(img, (c) => { c.rootfs.diff_ids = []; }).config()).rejects.toMatchObject({ code: 'EINVALID' });
    await expect(editConfig(img, (c) => { (c as { config: unknown }).config = { Env: 'bad' }; }).config()).rejects.toMatchObject({ code: 'EINVALID' });
    // the manifest of the edited image points at the edited config
    expect((await sh.manifest()).config.digest).toBe(digestOf(await sh.rawConfig()));
    expect((await sh.manifest()).layers).toEqual((await img.manifest()).layers);
  });

  it('converts OCI ↔ Docker v2s2 and round-trips to identical bytes', async () => {
    const { img } = base();
    const oci = appendLayers(img, { layer: layerFromTarBytes(tinyTar('b', 'b')), history: { created_by: 'b' } });
    const docker = convertFormat(oci, 'docker');
    const dm = await docker.manifest();
    expect(await docker.mediaType()).toBe(MediaType.DockerManifest);
    expect(dm.mediaType).toBe(MediaType.DockerManifest);
    expect(dm.config.mediaType).toBe(MediaType.DockerConfig);
    expect(dm.layers.map((l) => l.mediaType)).toEqual([MediaType.DockerLayerGzip, MediaType.DockerLayerGzip]);
    expect(await docker.configDigest()).toBe(await oci.configDigest());
    expect((await docker.layers()).length).toBe(2);
    expect(await (await docker.layers())[0]!.mediaType()).toBe(MediaType.DockerLayerGzip);
    parseManifest(await docker.rawManifest(), { mediaType: MediaType.DockerManifest });
    const back = convertFormat(docker, 'oci');
    expect(Buffer.from(await back.rawManifest())).toEqual(Buffer.from(await oci.rawManifest()));
    expect(await back.digest()).toBe(await oci.digest());
    // converting to the current format is the identity
    expect(await convertFormat(oci, 'oci').digest()).toBe(await oci.digest());
  });

  it('refuses to convert zstd layers to Docker v2s2', async () => {
    const { img } = base();
    const z = appendLayers(img, { layer: layerFromTarBytes(tinyTar('z', 'z'), { compression: 'zstd' }), history: {} });
    await expect(convertFormat(z, 'docker').manifest()).rejects.toMatchObject({ code: 'EUNSUPPORTED', message: expect.stringContaining('zstd') });
  });
});
