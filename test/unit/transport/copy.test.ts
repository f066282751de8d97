import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile, chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSkiffError } from '../../../shared/errors.ts';
import { digestHex } from '../../../shared/oci/digest.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import { parseImageName } from '../../../shared/ref/transport-name.ts';
import { openStore } from '../../../shared/store/store.ts';
import { copyImage, type CopyOptions, type CopyResult, type ProgressEvent } from '../../../shared/transport/copy-image.ts';
import { openSource, openTarget, type TransportContext } from '../../../shared/transport/open.ts';
import { BlobScheduler } from '../../../shared/transport/scheduler.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { makeImage, putImage, putIndex, readBack, refNames } from './fixtures.ts';

let dir: string;
let cleanup: () => Promise<void>;
let ctx: TransportContext;
let srcLayout: string;
let original: { digest: string; diffIds: string[] };

beforeAll(async () => {
  ({ dir, cleanup } = await scratchDir('skiff-transport-'));
  ctx = { storeRoot: join(dir, 'store'), registry: {}, tmpDir: dir };
  srcLayout = join(dir, 'src');
  const { desc } = await putImage(srcLayout, await makeImage('base'), 'v1');
  const src = await openSource(parseImageName(`oci:${srcLayout}:v1`), ctx);
  const rb = await readBack(src);
  await src.close();
  original = { digest: desc.digest, diffIds: rb.diffIds };
});
afterAll(() => cleanup());

async function copy(from: string, to: string, o: CopyOptions = {}): Promise<CopyResult> {
  const src = await openSource(parseImageName(from), ctx);
  try {
    const dst = await openTarget(parseImageName(to), ctx);
    try {
      return await copyImage(src, dst, o);
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

async function inspect(name: string, platform?: { os: string; architecture: string }) {
  const src = await openSource(parseImageName(name), ctx);
  try {
    return await readBack(src, platform);
  } finally {
    await src.close();
  }
}

const first: Record<string, (n: string) => string> = {
  oci: (n) => `oci:${join(dir, `p-oci-${n}`)}:t`,
  'oci-archive': (n) => `oci-archive:${join(dir, `p-${n}.oci.tar`)}:t`,
  dir: (n) => `dir:${join(dir, `p-dir-${n}`)}`,
  store: (n) => `store:pair-${n.replace(/[^a-z0-9]/g, '')}:t`,
};

describe('round trips through every pair of transports', () => {
  it('preserves the manifest digest between oci:, oci-archive:, dir: and store:', async () => {
    const kinds = Object.keys(first);
    for (const k of kinds) {
      const r = await copy(`oci:${srcLayout}:v1`, first[k]!('seed'));
      expect(r.digest).toBe(original.digest);
    }
    for (const a of kinds) {
      for (const b of kinds) {
        const to = first[b]!(`${a}-to`);
        const r = await copy(first[a]!('seed'), to);
        expect(r.digest, `${a} → ${b}`).toBe(original.digest);
        const back = await inspect(to);
        expect(back.digest, `${a} → ${b} read back`).toBe(original.digest);
        expect(back.diffIds).toEqual(original.diffIds);
      }
    }
  });

  it('docker-archive keeps the diffIDs (digests follow its format) both ways', async () => {
    const file = join(dir, 'img.docker.tar');
    await copy(`oci:${srcLayout}:v1`, `docker-archive:${file}:example.com/app:1`);
    const rb = await inspect(`docker-archive:${file}`);
    expect(rb.diffIds).toEqual(original.diffIds);
    expect(rb.layerTypes.every((t) => t === MediaType.DockerLayer)).toBe(true);
    // the same image found by its RepoTag and by index
    expect((await inspect(`docker-archive:${file}:example.com/app:1`)).diffIds).toEqual(original.diffIds);
    expect((await inspect(`docker-archive:${file}:@0`)).diffIds).toEqual(original.diffIds);
    const manifest = JSON.parse(await readTarMember(file, 'manifest.json')) as { RepoTags: string[]; Layers: string[] }[];
    expect(manifest[0]!.RepoTags).toEqual(['example.com/app:1']);
    expect(manifest[0]!.Layers).toEqual(original.diffIds.map((d) => `${digestHex(d as never)}.tar`));
    // and back into a layout and the store: uncompressed layers, same diffIDs
    await copy(`docker-archive:${file}`, `oci:${join(dir, 'from-da')}:x`);
    expect((await inspect(`oci:${join(dir, 'from-da')}:x`)).diffIds).toEqual(original.diffIds);
    await copy(`docker-archive:${file}`, `store:from-da`);
    expect((await inspect(`store:from-da`)).diffIds).toEqual(original.diffIds);
  });
});

async function readTarMember(file: string, name: string): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('tar', ['-xOf', file, name]).toString('utf8');
}

describe('multi-platform index', () => {
  let multi: string;
  let d: Awaited<ReturnType<typeof putIndex>>;
  beforeAll(async () => {
    multi = join(dir, 'multi');
    d = await putIndex(multi, 'm');
  });

  it('system copies the host platform, --platform another one', async () => {
    const r = await copy(`oci:${multi}:m`, `oci:${join(dir, 'mi-sys')}:x`);
    expect(r.digest).toBe(d.amd64.digest);
    const r2 = await copy(`oci:${multi}:m`, `oci:${join(dir, 'mi-arm')}:x`, { platform: { os: 'linux', architecture: 'arm64' } });
    expect(r2.digest).toBe(d.arm64.digest);
    expect((await inspect(`oci:${join(dir, 'mi-arm')}:x`)).digest).toBe(d.arm64.digest);
  });

  it('all copies the index and every image; index-only the index alone', async () => {
    const r = await copy(`oci:${multi}:m`, `oci:${join(dir, 'mi-all')}:x`, { multiArch: 'all' });
    expect(r.digest).toBe(d.index.digest);
    expect(r.manifests).toBe(3);
    expect((await inspect(`oci:${join(dir, 'mi-all')}:x`, { os: 'linux', architecture: 'arm64' })).digest).toBe(d.arm64.digest);
    const ro = await copy(`oci:${multi}:m`, `oci:${join(dir, 'mi-only')}:x`, { multiArch: 'index-only' });
    expect(ro.digest).toBe(d.index.digest);
    expect(ro.manifests).toBe(1);
    expect(existsSync(join(dir, 'mi-only', 'blobs', 'sha256', digestHex(d.amd64.digest)))).toBe(false);
    // a store holds complete images only
    await expect(copy(`oci:${multi}:m`, `store:idx-only`, { multiArch: 'index-only' })).rejects.toMatchObject({ code: 'EUNSUPPORTED' });
    // the whole index into the store, an archive and dir:
    for (const to of [`store:idx-all`, `oci-archive:${join(dir, 'mi.tar')}:x`, `dir:${join(dir, 'mi-dir')}`]) {
      expect((await copy(`oci:${multi}:m`, to, { multiArch: 'all' })).digest).toBe(d.index.digest);
      expect((await inspect(to, { os: 'linux', architecture: 'arm64' })).digest).toBe(d.arm64.digest);
    }
  });

  it('docker-archive cannot hold an index', async () => {
    await expect(copy(`oci:${multi}:m`, `docker-archive:${join(dir, 'mi.da.tar')}`, { multiArch: 'all' })).rejects.toMatchObject({ code: 'EUNSUPPORTED' });
    expect(existsSync(join(dir, 'mi.da.tar'))).toBe(false);
  });

  it('all + format conversion rewrites the index as a Docker manifest list', async () => {
    const r = await copy(`oci:${multi}:m`, `oci:${join(dir, 'mi-docker')}:x`, { multiArch: 'all', format: 'docker' });
    expect(r.digest).not.toBe(d.index.digest);
    const src = await openSource(parseImageName(`oci:${join(dir, 'mi-docker')}:x`), ctx);
    const top = await src.getManifest();
    await src.close();
    const idx = JSON.parse(Buffer.from(top.bytes).toString()) as { mediaType: string; manifests: { mediaType: string }[] };
    expect(idx.mediaType).toBe(MediaType.DockerManifestList);
    expect(idx.manifests.every((m) => m.mediaType === MediaType.DockerManifest)).toBe(true);
  });
  it('a Docker manifest list copied to oci: or oci-archive: becomes an OCI index of OCI manifests', async () => {
    await copy(`oci:${multi}:m`, `dir:${join(dir, 'mi-docker-dir')}`, { multiArch: 'all', format: 'docker' });
    for (const to of [`oci:${join(dir, 'mi-back')}:x`, `oci-archive:${join(dir, 'mi-back.tar')}:x`]) {
      await copy(`dir:${join(dir, 'mi-docker-dir')}`, to, { multiArch: 'all' });
      const src = await openSource(parseImageName(to), ctx);
      const top = await src.getManifest();
      const idx = JSON.parse(Buffer.from(top.bytes).toString()) as { mediaType: string; manifests: { mediaType: string; digest: string }[] };
      expect(idx.mediaType, to).toBe(MediaType.OciIndex);
      expect(idx.manifests.map((m) => m.mediaType), to).toEqual([MediaType.OciManifest, MediaType.OciManifest]);
      const child = JSON.parse(Buffer.from((await src.getManifest(idx.manifests[0]!.digest as never)).bytes).toString()) as { config: { mediaType: string }; layers: { mediaType: string }[] };
      expect(child.config.mediaType).toBe(MediaType.OciConfig);
      expect(child.layers.every((l) => l.mediaType === MediaType.OciLayerGzip)).toBe(true);
      await src.close();
    }
    await expect(copy(`dir:${join(dir, 'mi-docker-dir')}`, `oci:${join(dir, 'mi-pd')}:x`, { multiArch: 'all', preserveDigests: true })).rejects.toThrow(/cannot preserve digests/);
    await expect(copy(`dir:${join(dir, 'mi-docker-dir')}`, `oci:${join(dir, 'mi-io')}:x`, { multiArch: 'index-only' })).rejects.toMatchObject({ code: 'EUNSUPPORTED' });
  });
});

describe('format conversion and recompression', () => {
  it('converts oci → docker → oci keeping the config and layers', async () => {
    const r = await copy(`oci:${srcLayout}:v1`, `oci:${join(dir, 'conv')}:docker`, { format: 'docker' });
    expect(r.digest).not.toBe(original.digest);
    const rb = await inspect(`oci:${join(dir, 'conv')}:docker`);
    expect(rb.layerTypes.every((t) => t === MediaType.DockerLayerGzip)).toBe(true);
    expect(rb.diffIds).toEqual(original.diffIds);
    await copy(`oci:${join(dir, 'conv')}:docker`, `oci:${join(dir, 'conv')}:oci`, { format: 'oci' });
    const back = await inspect(`oci:${join(dir, 'conv')}:oci`);
    expect(back.layerTypes.every((t) => t === MediaType.OciLayerGzip)).toBe(true);
    expect(back.diffIds).toEqual(original.diffIds);
  });

  it('recompresses gzip → zstd while streaming; zstd layers read back verified', async () => {
    const r = await copy(`oci:${srcLayout}:v1`, `oci:${join(dir, 'zstd')}:z`, { compressFormat: 'zstd' });
    expect(r.digest).not.toBe(original.digest);
    const rb = await inspect(`oci:${join(dir, 'zstd')}:z`);
    expect(rb.layerTypes.every((t) => t === MediaType.OciLayerZstd)).toBe(true);
    expect(rb.diffIds).toEqual(original.diffIds);
    // zstd from a docker-format image becomes OCI; asking for docker + zstd is refused
    await copy(`oci:${join(dir, 'conv')}:docker`, `oci:${join(dir, 'zstd')}:fromdocker`, { compressFormat: 'zstd' });
    expect((await inspect(`oci:${join(dir, 'zstd')}:fromdocker`)).layerTypes.every((t) => t === MediaType.OciLayerZstd)).toBe(true);
    await expect(copy(`oci:${srcLayout}:v1`, `oci:${join(dir, 'zstd')}:bad`, { compressFormat: 'zstd', format: 'docker' })).rejects.toMatchObject({ code: 'EUNSUPPORTED' });
    // zstd into docker-archive: decompressed by the target, same diffIDs
    const file = join(dir, 'zstd.docker.tar');
    await copy(`oci:${join(dir, 'zstd')}:z`, `docker-archive:${file}`);
    expect((await inspect(`docker-archive:${file}`)).diffIds).toEqual(original.diffIds);
  });

  it('--preserve-digests refuses any change of the manifest digest', async () => {
    for (const o of [{ compressFormat: 'zstd' }, { format: 'docker' }] as CopyOptions[]) {
      await expect(copy(`oci:${srcLayout}:v1`, `oci:${join(dir, 'pres')}:x`, { ...o, preserveDigests: true })).rejects.toMatchObject({ code: 'EINVALID' });
    }
    await expect(copy(`oci:${srcLayout}:v1`, `docker-archive:${join(dir, 'pres.tar')}`, { preserveDigests: true })).rejects.toMatchObject({ code: 'EINVALID' });
    expect((await copy(`oci:${srcLayout}:v1`, `oci:${join(dir, 'pres')}:x`, { preserveDigests: true })).digest).toBe(original.digest);
  });
});

describe('signatures', () => {
  it('SG-11 a signed image is carried as is, and refused when the copy would change its manifest', async () => {
    const signed = join(dir, 'signed');
    await copy(`oci:${srcLayout}:v1`, `dir:${signed}`);
    await writeFile(join(signed, 'signature-1'), 'fake signature');
    await copy(`dir:${signed}`, `dir:${join(dir, 'signed2')}`);
    expect(await readFile(join(dir, 'signed2', 'signature-1'), 'utf8')).toBe('fake signature');
    await expect(copy(`dir:${signed}`, `dir:${join(dir, 'signed3')}`, { compressFormat: 'zstd' })).rejects.toThrow(/invalidate its signatures/);
    expect(existsSync(join(dir, 'signed3'))).toBe(false);
    await copy(`dir:${signed}`, `dir:${join(dir, 'signed3')}`, { compressFormat: 'zstd', removeSignatures: true });
    expect(existsSync(join(dir, 'signed3', 'signature-1'))).toBe(false);
    // a destination without signature storage: refused unless removed
    await expect(copy(`dir:${signed}`, `oci:${join(dir, 'signed-oci')}:x`)).rejects.toMatchObject({ code: 'EUNSUPPORTED' });
    expect((await copy(`dir:${signed}`, `oci:${join(dir, 'signed-oci')}:x`, { removeSignatures: true })).digest).toBe(original.digest);
  });
});

describe('verification and interruption', () => {
  it('a corrupt source blob fails the copy (EINTEGRITY) and names nothing', async () => {
    const bad = join(dir, 'corrupt');
    await copy(`oci:${srcLayout}:v1`, `dir:${bad}`);
    const layer = readdirSync(bad).find((n) => /^[a-f0-9]{64}$/.test(n) && n !== digestHex(original.digest as never))!;
    const p = join(bad, layer);
    await chmod(p, 0o644);
    const bytes = await readFile(p);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(p, bytes);
    let failed: unknown;
    try {
      await copy(`dir:${bad}`, `oci:${join(dir, 'corrupt-dst')}:x`);
    } catch (e) {
      failed = e;
    }
    expect(isSkiffError(failed) && ['EINTEGRITY', 'EINVALID'].includes(failed.code)).toBe(true);
    expect(existsSync(join(dir, 'corrupt-dst'))).toBe(false); // the copy made it: nothing of it is left
  });

  it('a truncated source layer leaves nothing in a destination the copy created, and a layout that existed as it was', async () => {
    const bad = join(dir, 'truncated');
    await copy(`oci:${srcLayout}:v1`, `oci:${bad}:v1`);
    const m = JSON.parse(await readFile(join(bad, 'blobs', 'sha256', digestHex(original.digest as never)), 'utf8')) as { layers: { digest: string }[] };
    const p = join(bad, 'blobs', 'sha256', digestHex(m.layers[1]!.digest as never));
    await chmod(p, 0o644);
    await writeFile(p, (await readFile(p)).subarray(0, 100));
    // a new layout, a new archive: gone after the failure
    for (const to of [`oci:${join(dir, 'trunc-new')}:x`, `oci-archive:${join(dir, 'trunc-new.tar')}:x`]) {
      await expect(copy(`oci:${bad}:v1`, to)).rejects.toThrow();
      expect(existsSync(to.split(':')[1]!), to).toBe(false);
    }
    expect(readdirSync(dir).filter((n) => n.startsWith('trunc-new'))).toEqual([]);
    // an existing empty directory stays, empty
    const empty = join(dir, 'trunc-empty');
    await mkdir(empty);
    await expect(copy(`oci:${bad}:v1`, `oci:${empty}:x`)).rejects.toThrow();
    expect(readdirSync(empty)).toEqual([]);
    // an existing layout keeps what it had, untouched
    const kept = join(dir, 'trunc-kept');
    await putImage(kept, await makeImage('kept-other'), 'old');
    const before = readdirSync(join(kept, 'blobs', 'sha256')).sort();
    await expect(copy(`oci:${bad}:v1`, `oci:${kept}:x`)).rejects.toThrow();
    expect(await refNames(kept)).toEqual(['old']);
    expect(readdirSync(join(kept, 'blobs', 'sha256'))).toEqual(expect.arrayContaining(before));
    expect(existsSync(join(kept, 'oci-layout'))).toBe(true);
  });

  it('an interrupted copy leaves no tag and no half-written archive', async () => {
    const targets = [
      `oci:${join(dir, 'int-oci')}:x`,
      `oci-archive:${join(dir, 'int.oci.tar')}:x`,
      `docker-archive:${join(dir, 'int.docker.tar')}:int:x`,
      `dir:${join(dir, 'int-dir')}`,
      `store:int:x`,
    ];
    for (const t of targets) {
      const ac = new AbortController();
      let err: unknown;
      try {
        await copy(`oci:${srcLayout}:v1`, t, { signal: ac.signal, parallel: 1, onProgress: (e) => (e.kind === 'blob-start' || e.kind === 'blob-skip') && ac.abort() });
      } catch (e) {
        err = e;
      }
      expect(err, t).toBeDefined();
    }
    expect(existsSync(join(dir, 'int-oci'))).toBe(false); // created by the copy, removed with it
    expect(existsSync(join(dir, 'int.oci.tar'))).toBe(false);
    expect(existsSync(join(dir, 'int.docker.tar'))).toBe(false);
    expect(existsSync(join(dir, 'int-dir'))).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-') || n.startsWith('.skiff-docker-archive-') || n.startsWith('.int-dir'))).toEqual([]);
    const store = await openStore(ctx.storeRoot);
    await expect(store.layout.resolve('localhost/int:x')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await store.close();
  });
});

describe('progress, skipping and the scheduler', () => {
  it('emits progress events and skips what the destination has', async () => {
    const ev: ProgressEvent[] = [];
    const to = `oci:${join(dir, 'prog')}:x`;
    const r = await copy(`oci:${srcLayout}:v1`, to, { onProgress: (e) => ev.push(e) });
    expect(r.skipped).toBe(false);
    const kinds = new Set(ev.map((e) => e.kind));
    for (const k of ['blob-start', 'blob-done', 'manifest', 'done']) expect(kinds.has(k as never), k).toBe(true);
    expect(ev.filter((e) => e.kind === 'blob-done').length).toBe(3); // 2 layers + config
    const again = await copy(`oci:${srcLayout}:v1`, to);
    expect(again.skipped).toBe(true);
    // a new tag in the same layout: blobs exist, only skips
    const ev2: ProgressEvent[] = [];
    const r3 = await copy(`oci:${srcLayout}:v1`, `oci:${join(dir, 'prog')}:y`, { onProgress: (e) => ev2.push(e) });
    expect(r3.skipped).toBe(false);
    expect(ev2.filter((e) => e.kind === 'blob-skip' && e.reason === 'exists').length).toBe(3);
    expect(await refNames(join(dir, 'prog'))).toEqual(['x', 'y']);
  });

  it('BlobScheduler runs one job per key at a time and bounds concurrency', async () => {
    const s = new BlobScheduler(2);
    let calls = 0;
    let active = 0;
    let peak = 0;
    const job = async () => {
      calls++;
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 20));
      active--;
      return 'v';
    };
    const [a, b] = await Promise.all([s.run('k', job), s.run('k', job)]);
    expect(calls).toBe(1);
    expect([a.shared, b.shared].sort()).toEqual([false, true]);
    await Promise.all(['1', '2', '3', '4', '5'].map((k) => s.run(k, job)));
    expect(peak).toBe(2);
    // a failed job does not fail the waiter: it retries
    let n = 0;
    const flaky = async () => {
      await new Promise((r) => setTimeout(r, 10));
      if (n++ === 0) throw new Error('first fails');
      return 'ok';
    };
    const rs = await Promise.allSettled([s.run('f', flaky), s.run('f', flaky)]);
    expect(rs.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('the scheduler de-duplicates a blob shared by two concurrent copies', async () => {
    const shared = join(dir, 'shared-src');
    await putImage(shared, await makeImage('one', { shared: 'S' }), 'one');
    await putImage(shared, await makeImage('two', { shared: 'S' }), 'two');
    const scheduler = new BlobScheduler(4);
    const starts: string[] = [];
    const onProgress = (e: ProgressEvent) => e.kind === 'blob-start' && starts.push(e.digest!);
    const to = join(dir, 'shared-dst');
    await Promise.all([
      copy(`oci:${shared}:one`, `oci:${to}:one`, { scheduler, onProgress }),
      copy(`oci:${shared}:two`, `oci:${to}:two`, { scheduler, onProgress }),
    ]);
    expect(starts.length).toBe(new Set(starts).size);
    expect(starts.length).toBe(7); // shared layer once, 2 own layers and a config each
    expect(await refNames(to)).toEqual(expect.arrayContaining(['one', 'two']));
  });
});

describe('concurrent copies', () => {
  it('LS-09 eight parallel copies into one oci: layout and into the store lose no tag', async () => {
    const src = join(dir, 'ls09-src');
    for (let i = 0; i < 8; i++) await putImage(src, await makeImage(`ls09-${i}`, { layers: 1 }), `t${i}`);
    const layout = join(dir, 'ls09-dst');
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => copy(`oci:${src}:t${i}`, `oci:${layout}:t${i}`)));
    expect((await refNames(layout)).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `t${i}`));
    await Promise.all(Array.from({ length: 8 }, (_, i) => copy(`oci:${src}:t${i}`, `store:ls09:t${i}`)));
    const store = await openStore(ctx.storeRoot);
    for (let i = 0; i < 8; i++) expect((await store.layout.resolve(`localhost/ls09:t${i}`)).digest).toBe(rs[i]!.digest);
    const v = await store.verify();
    expect(JSON.stringify(v)).not.toMatch(/"missing":\[[^\]]/);
    await store.close();
  });
});
