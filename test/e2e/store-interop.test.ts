import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../shared/store/store.ts';
import { listImages } from '../../shared/store/list-images.ts';
import { lookupImage } from '../../shared/store/lookup.ts';
import { parseManifest } from '../../shared/oci/validate.ts';
import { applyLayer } from '../../shared/layer/apply.ts';
import { decompress } from '../../shared/layer/compression.ts';
import { scratchDir, isRoot } from '../helpers/tmp.ts';
import { busyboxTarball, hasBusybox, makeBusyboxImage } from '../helpers/busybox.ts';

function has(prog: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${prog}`]).status === 0;
}
const hasSkopeo = has('skopeo');
const hasUmoci = has('umoci');

describe.skipIf(!hasBusybox)('store interoperability with skopeo and umoci', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: string;
  let made: { digest: string; id: string };

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir());
    root = join(dir, 'store');
    made = await makeBusyboxImage(root, dir);
  });
  afterAll(() => cleanup());

  it.skipIf(!hasSkopeo)('skopeo inspects an image skiff stored, by its full name', () => {
    const out = execFileSync('skopeo', ['inspect', `oci:${root}/images:localhost/busybox:latest`], { encoding: 'utf8' });
    const info = JSON.parse(out) as { Digest: string; Layers: string[]; Os: string; Created: string };
    expect(info.Digest).toBe(made.digest);
    expect(info.Os).toBe('linux');
    expect(info.Layers).toHaveLength(1);
    expect(info.Created).toBe('2026-01-01T00:00:00Z');
    const cfg = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci:${root}/images:localhost/busybox:latest`], { encoding: 'utf8' })) as { rootfs: { diff_ids: string[] } };
    expect(`sha256:${made.id.slice(7)}`).toBe(made.id);
    expect(cfg.rootfs.diff_ids).toHaveLength(1);
  });

  it.skipIf(!hasUmoci)('umoci lists the store and unpacks the image to the same files', () => {
    const names = execFileSync('umoci', ['ls', '--layout', join(root, 'images')], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toContain('localhost/busybox:latest');
    if (!isRoot) return;
    const bundle = join(dir, 'umoci-bundle');
    execFileSync('umoci', ['unpack', '--image', `${join(root, 'images')}:localhost/busybox:latest`, bundle], { stdio: 'pipe' });
    const rootfs = join(bundle, 'rootfs');
    expect(readlinkSync(join(rootfs, 'bin/sh'))).toBe('/bin/busybox');
    expect(readFileSync(join(rootfs, 'etc/passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
    expect(statSync(join(rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
  });

  it.skipIf(!hasSkopeo)('skiff reads an image skopeo wrote into the store and into another layout', async () => {
    const other = join(dir, 'skopeo-layout');
    execFileSync('skopeo', ['copy', '-q', `oci:${root}/images:localhost/busybox:latest`, `oci:${other}:copied`]);
    // skopeo writing straight into the store under a second name
    execFileSync('skopeo', ['copy', '-q', `oci:${other}:copied`, `oci:${root}/images:docker.io/library/busybox:1.36`]);
    const store = await openStore(root);
    try {
      const rows = await listImages(store.layout);
      const row = rows.find((r) => r.id === made.id);
      expect(row?.names.sort()).toEqual(['docker.io/library/busybox:1.36', 'localhost/busybox:latest']);
      const found = await lookupImage(store.layout, 'busybox:1.36');
      expect(found.name).toBe('docker.io/library/busybox:1.36');
      expect(found.id).toBe(made.id);
      expect((await store.verify()).damaged).toEqual([]);
    } finally {
      await store.close();
    }
    // Read skopeo's own layout with skiff's layout code and apply its layer.
    const { openLayout } = await import('../../shared/store/layout.ts');
    const layout = await openLayout(other);
    const desc = await layout.resolve('copied');
    const m = parseManifest(await layout.blobs.readBytes(desc), { mediaType: desc.mediaType }).manifest;
    const target = join(dir, 'applied');
    mkdirSync(target, { mode: 0o700 });
    const { stream } = await decompress(await layout.blobs.open(m.layers[0]!));
    const res = await applyLayer(target, stream);
    expect(res.entries).toBeGreaterThan(50);
    expect(readlinkSync(join(target, 'bin/sh'))).toBe('/bin/busybox');
  });

  it('the tarball used is a real busybox root filesystem', () => {
    const list = execFileSync('tar', ['-tf', busyboxTarball(dir)], { encoding: 'utf8' });
    expect(list).toContain('./bin/busybox');
  });
});
