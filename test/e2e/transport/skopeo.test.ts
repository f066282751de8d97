import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageName } from '../../../shared/ref/transport-name.ts';
import { copyImage } from '../../../shared/transport/copy-image.ts';
import { openSource, openTarget, type TransportContext } from '../../../shared/transport/open.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { makeImage, putImage, readBack } from '../../unit/transport/fixtures.ts';

const hasSkopeo = (() => {
  try {
    execFileSync('skopeo', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const hasUmoci = (() => {
  try {
    execFileSync('umoci', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function skopeo(...args: string[]): string {
  return execFileSync('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe.skipIf(!hasSkopeo)('transport interop with skopeo', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ctx: TransportContext;
  let src: string;
  let digest: string;
  let diffIds: string[];

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-transport-e2e-'));
    ctx = { storeRoot: join(dir, 'store'), registry: {}, tmpDir: dir };
    src = join(dir, 'src');
    digest = (await putImage(src, await makeImage('interop', { layers: 3 }), 'v1')).desc.digest;
    const s = await openSource(parseImageName(`oci:${src}:v1`), ctx);
    diffIds = (await readBack(s)).diffIds;
    await s.close();
  });
  afterAll(() => cleanup());

  async function ours(from: string, to: string): Promise<string> {
    const s = await openSource(parseImageName(from), ctx);
    const t = await openTarget(parseImageName(to), ctx);
    try {
      return (await copyImage(s, t)).digest;
    } finally {
      await t.close();
      await s.close();
    }
  }

  async function read(name: string) {
    const s = await openSource(parseImageName(name), ctx);
    try {
      return await readBack(s);
    } finally {
      await s.close();
    }
  }

  const targets = (tag: string) => ({
    oci: `oci:${join(dir, `${tag}-oci`)}:x`,
    'oci-archive': `oci-archive:${join(dir, `${tag}.oci.tar`)}:x`,
    'docker-archive': `docker-archive:${join(dir, `${tag}.docker.tar`)}:example.com/interop:x`,
    dir: `dir:${join(dir, `${tag}-dir`)}`,
  });

  it('skopeo reads what each of our targets wrote', async () => {
    for (const [kind, name] of Object.entries(targets('ours'))) {
      await ours(`oci:${src}:v1`, name);
      if (kind === 'docker-archive') {
        const cfg = JSON.parse(skopeo('inspect', '--config', name)) as { rootfs: { diff_ids: string[] } };
        expect(cfg.rootfs.diff_ids).toEqual(diffIds);
        const out = join(dir, 'from-ours-da');
        skopeo('copy', '-q', name, `oci:${out}:y`);
        expect(JSON.parse(skopeo('inspect', '--config', `oci:${out}:y`)).rootfs.diff_ids).toEqual(diffIds);
        continue;
      }
      const raw = skopeo('inspect', '--raw', name);
      expect(JSON.parse(raw).layers.length, kind).toBe(3);
      const out = join(dir, `from-ours-${kind}`);
      skopeo('copy', '-q', '--preserve-digests', name, `oci:${out}:y`);
      expect(JSON.parse(skopeo('inspect', `oci:${out}:y`)).Digest, kind).toBe(digest);
    }
  });

  it('our sources read what skopeo wrote to each transport', async () => {
    for (const [kind, name] of Object.entries(targets('skopeo'))) {
      skopeo('copy', '-q', `oci:${src}:v1`, name);
      const rb = await read(name);
      expect(rb.diffIds, kind).toEqual(diffIds);
      if (kind !== 'docker-archive') expect(rb.digest, kind).toBe(digest);
      const back = join(dir, `back-${kind}`);
      await ours(name, `oci:${back}:z`);
      expect((await read(`oci:${back}:z`)).diffIds).toEqual(diffIds);
    }
  });

  it('a Docker-format source copied to oci: and oci-archive: is converted to OCI, and skopeo and umoci read it', async () => {
    const dockerSrc = join(dir, 'docker-src');
    await putImage(dockerSrc, await makeImage('docker-fmt', { format: 'docker', layers: 2 }), 'v1');
    const plainTar = join(dir, 'docker-plain.tar');
    skopeo('copy', '-q', `oci:${src}:v1`, `docker-archive:${plainTar}:example.com/plain:1`); // uncompressed Docker layers
    const cases: Array<[string, string]> = [
      [`oci:${dockerSrc}:v1`, `oci:${join(dir, 'conv-oci')}:t`],
      [`oci:${dockerSrc}:v1`, `oci-archive:${join(dir, 'conv.oci.tar')}:t`],
      [`docker-archive:${plainTar}`, `oci:${join(dir, 'conv-da')}:t`],
    ];
    for (const [from, to] of cases) {
      await ours(from, to);
      const raw = JSON.parse(skopeo('inspect', '--raw', to)) as { mediaType: string; config: { mediaType: string }; layers: Array<{ mediaType: string }> };
      expect(raw.mediaType, to).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(raw.config.mediaType, to).toBe('application/vnd.oci.image.config.v1+json');
      const want = from.startsWith('docker-archive:') ? 'application/vnd.oci.image.layer.v1.tar' : 'application/vnd.oci.image.layer.v1.tar+gzip';
      for (const l of raw.layers) expect(l.mediaType, to).toBe(want);
      const cfg = JSON.parse(skopeo('inspect', '--config', to)) as { rootfs: { diff_ids: string[] } };
      expect(cfg.rootfs.diff_ids.length, to).toBe(raw.layers.length);
    }
    if (hasUmoci) {
      const names = execFileSync('umoci', ['ls', '--layout', join(dir, 'conv-da')], { encoding: 'utf8' }).trim().split('\n');
      expect(names).toEqual(['t']);
      if (process.getuid?.() === 0) {
        execFileSync('umoci', ['unpack', '--image', `${join(dir, 'conv-da')}:t`, join(dir, 'conv-da-bundle')], { stdio: 'pipe' });
        expect(readdirSync(join(dir, 'conv-da-bundle', 'rootfs')).sort()).toEqual(['f0.txt', 'f1.txt', 'f2.txt']);
      }
    }
  });

  it('--preserve-digests refuses a Docker-format source into oci: with one clear error, writing no entry', async () => {
    const dockerSrc = join(dir, 'docker-src-pd');
    await putImage(dockerSrc, await makeImage('docker-pd', { format: 'docker', layers: 1 }), 'v1');
    const s = await openSource(parseImageName(`oci:${dockerSrc}:v1`), ctx);
    const t = await openTarget(parseImageName(`oci:${join(dir, 'pd-out')}:t`), ctx);
    try {
      await expect(copyImage(s, t, { preserveDigests: true })).rejects.toThrow(/must be converted to application\/vnd\.oci\.image\.manifest\.v1\+json.*cannot preserve digests/);
    } finally {
      await t.close();
      await s.close();
    }
  });

  it('a Docker-format image keeps its format and digest in the store; copied out to oci: it is converted, and skopeo and umoci read both', async () => {
    const dockerSrc = join(dir, 'docker-src-store');
    const d = (await putImage(dockerSrc, await makeImage('docker-store', { format: 'docker', layers: 1 }), 'v1')).desc.digest;
    expect(await ours(`oci:${dockerSrc}:v1`, 'store:dfmt:1')).toBe(d); // as podman's storage: digest (and signatures) kept
    if (hasUmoci) expect(execFileSync('umoci', ['ls', '--layout', join(ctx.storeRoot, 'images')], { encoding: 'utf8' })).toContain('localhost/dfmt:1');
    const out = `oci:${join(dir, 'from-store-docker')}:t`;
    await ours('store:dfmt:1', out);
    expect((JSON.parse(skopeo('inspect', '--raw', out)) as { mediaType: string }).mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
  });

  it('skopeo reads an image we copied into the store, and its multi-image oci: layout by ref', async () => {
    await ours(`oci:${src}:v1`, 'store:interop:1');
    const out = JSON.parse(skopeo('inspect', `oci:${join(ctx.storeRoot, 'images')}:localhost/interop:1`)) as { Digest: string };
    expect(out.Digest).toBe(digest);
  });
});
