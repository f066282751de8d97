import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageName } from '../../../shared/ref/transport-name.ts';
import { copyImage, type CopyOptions, type CopyResult, type ProgressEvent } from '../../../shared/transport/copy-image.ts';
import { openSource, openTarget, type TransportContext } from '../../../shared/transport/open.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { makeImage, putImage, putIndex, readBack, refNames } from '../../unit/transport/fixtures.ts';

describe.skipIf(!existsSync(REGISTRY_BIN))('docker:// transport against a real registry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let ctx: TransportContext;
  let src: string;
  let digest: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-transport-reg-'));
    reg = await startRegistry();
    ctx = { storeRoot: join(dir, 'store'), registry: { tlsVerify: false }, tmpDir: dir };
    src = join(dir, 'src');
    digest = (await putImage(src, await makeImage('reg'), 'v1')).desc.digest;
  });
  afterAll(async () => {
    await reg?.stop();
    await cleanup?.();
  });

  async function copy(from: string, to: string, o: CopyOptions = {}): Promise<CopyResult> {
    const s = await openSource(parseImageName(from), ctx);
    try {
      const t = await openTarget(parseImageName(to), ctx);
      try {
        return await copyImage(s, t, o);
      } finally {
        await t.close();
      }
    } finally {
      await s.close();
    }
  }

  it('pushes, pulls back with the same digest, and skips a second push', async () => {
    const to = `docker://${reg.host}/skiff/app:1`;
    expect((await copy(`oci:${src}:v1`, to)).digest).toBe(digest);
    const s = await openSource(parseImageName(to), ctx);
    expect((await readBack(s)).digest).toBe(digest);
    await s.close();
    expect((await copy(to, `oci:${join(dir, 'pulled')}:x`)).digest).toBe(digest);
    expect(await refNames(join(dir, 'pulled'))).toEqual(['x']);
    expect((await copy(`oci:${src}:v1`, to)).skipped).toBe(true);
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', to], { encoding: 'utf8' })) as { Digest: string };
    expect(inspected.Digest).toBe(digest);
  });

  it('mounts blobs across repositories of one registry and pushes additional tags', async () => {
    const ev: ProgressEvent[] = [];
    await copy(`docker://${reg.host}/skiff/app:1`, `docker://${reg.host}/other/app:2`, { onProgress: (e) => ev.push(e), additionalTags: ['extra'] });
    const skips = ev.filter((e) => e.kind === 'blob-skip');
    expect(skips.length).toBe(3);
    expect(skips.every((e) => e.reason === 'mounted' || e.reason === 'exists')).toBe(true);
    expect(skips.some((e) => e.reason === 'mounted')).toBe(true);
    const s = await openSource(parseImageName(`docker://${reg.host}/other/app:extra`), ctx);
    expect((await s.getManifest()).digest).toBe(digest);
    await s.close();
  });

  it('copies a multi-platform index with all, and pushes by digest', async () => {
    const multi = join(dir, 'multi');
    const d = await putIndex(multi, 'm');
    const r = await copy(`oci:${multi}:m`, `docker://${reg.host}/skiff/multi:all`, { multiArch: 'all' });
    expect(r.digest).toBe(d.index.digest);
    const arm = await copy(`docker://${reg.host}/skiff/multi:all`, `oci:${join(dir, 'arm')}:a`, { platform: { os: 'linux', architecture: 'arm64' } });
    expect(arm.digest).toBe(d.arm64.digest);
    const byDigest = await copy(`oci:${src}:v1`, `docker://${reg.host}/skiff/bydigest@${digest}`);
    expect(byDigest.digest).toBe(digest);
    const s = await openSource(parseImageName(`docker://${reg.host}/skiff/bydigest@${digest}`), ctx);
    expect((await s.getManifest()).digest).toBe(digest);
    await s.close();
  });

  it('a docker-archive loaded into the registry is compressed again when asked', async () => {
    const file = join(dir, 'img.docker.tar');
    await copy(`oci:${src}:v1`, `docker-archive:${file}`);
    await copy(`docker-archive:${file}`, `docker://${reg.host}/skiff/fromarchive:1`, { compressFormat: 'gzip' });
    const s = await openSource(parseImageName(`docker://${reg.host}/skiff/fromarchive:1`), ctx);
    const rb = await readBack(s);
    await s.close();
    expect(rb.layerTypes.every((t) => t.endsWith('gzip'))).toBe(true);
  });
});
