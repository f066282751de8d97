// `manifest add docker://REF` by reference (manifest and config stored, layers left at the registry until `manifest
// push --all` copies them, mounted on the same registry), and a list ID that stays across edits — against a real
// registry (Debian's docker-registry on 127.0.0.1), checked with skopeo and side by side with buildah 1.28.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { scratchDir } from '../../helpers/tmp.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { openStore } from '../../../shared/store/store.ts';
import { importTarball } from '../../../shared/transport/tarball.ts';
import { COPY_TOOL } from '../../helpers/copy-tool.ts';
import { ok, rt } from './images-helpers.ts';

const BUILD_TOOL = join(resolve(import.meta.dirname, '../../..'), 'bin', 'build-tool.mjs');
const bt = (args: string[]) => spawnSync(process.execPath, [BUILD_TOOL, ...args], { encoding: 'utf8', timeout: 120_000 });
const skopeo = (args: string[]) => spawnSync('skopeo', args, { encoding: 'utf8', timeout: 120_000 });
const hasBuildah = spawnSync('sh', ['-c', 'command -v buildah'], { stdio: 'ignore' }).status === 0;
const TLS = '--tls-verify=false';

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Record<string, unknown>;
}
interface Doc {
  mediaType?: string;
  manifests?: Desc[];
  config?: Desc;
  layers?: Desc[];
}

describe.skipIf(!existsSync(REGISTRY_BIN) || !hasBusybox)('manifest lists by reference; a stable list ID', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let reg2: TestRegistry;
  /** Raw manifests of the source images, by registry path. */
  const raw = (ref: string): Doc => {
    const r = skopeo(['inspect', '--raw', TLS, `docker://${ref}`]);
    if (r.status !== 0) throw new Error(`skopeo inspect --raw ${ref}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Doc;
  };
  const blobsOf = (root: string) => new Set(readdirSync(join(root, 'images', 'blobs', 'sha256')).map((h) => `sha256:${h}`));
  const entryOf = (root: string, name: string) =>
    (JSON.parse(readFileSync(join(root, 'images', 'index.json'), 'utf8')) as { manifests: (Desc & { annotations?: Record<string, string> })[] }).manifests.filter(
      (m) => m.annotations?.['org.opencontainers.image.ref.name'] === name,
    );
  let layers: Set<string>;
  let amd: Doc;
  let arm: Doc;
  let amdDigest: string;
  let armDigest: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir());
    [reg, reg2] = await Promise.all([startRegistry({ accessLog: true }), startRegistry()]);
    const src = join(dir, 'src');
    await makeBusyboxImage(src, dir, 'localhost/busybox:latest');
    // a second, small image for arm64 (its bytes never run: only its manifest, config and layer travel)
    const tiny = join(dir, 'tiny');
    await mkdir(tiny);
    await writeFile(join(tiny, 'hello'), 'arm64 image\n');
    spawnSync('tar', ['-C', tiny, '-cf', join(dir, 'tiny.tar'), '.']);
    const store = await openStore(src, { create: true, write: true });
    try {
      await importTarball(store, join(dir, 'tiny.tar'), { name: 'localhost/tiny:latest', created: new Date('2026-01-01T00:00:00Z'), platform: { os: 'linux', architecture: 'arm64' } });
    } finally {
      await store.close();
    }
    for (const [from, to] of [['localhost/busybox:latest', 'lib/amd:1'], ['localhost/tiny:latest', 'lib/arm:1']]) {
      const c = skopeo(['copy', '-q', '--dest-tls-verify=false', `oci:${src}/images:${from}`, `docker://${reg.host}/${to}`]);
      expect(c.status, c.stderr).toBe(0);
    }
    amd = raw(`${reg.host}/lib/amd:1`);
    arm = raw(`${reg.host}/lib/arm:1`);
    amdDigest = JSON.parse(skopeo(['inspect', TLS, `docker://${reg.host}/lib/amd:1`]).stdout).Digest;
    armDigest = JSON.parse(skopeo(['inspect', TLS, `docker://${reg.host}/lib/arm:1`]).stdout).Digest;
    layers = new Set([...amd.layers!, ...arm.layers!].map((l) => l.digest));
    // the two-platform source index, made by a peer: buildah with private storage
    const B = ['--root', join(dir, 'bsrc-root'), '--runroot', join(dir, 'bsrc-run'), '--storage-driver', 'vfs'];
    const b = (args: string[]) => spawnSync('buildah', [...B, ...args], { encoding: 'utf8', timeout: 120_000 });
    if (hasBuildah) {
      for (const args of [
        ['manifest', 'create', 'srclist'],
        ['manifest', 'add', TLS, 'srclist', `docker://${reg.host}/lib/amd:1`],
        ['manifest', 'add', TLS, 'srclist', `docker://${reg.host}/lib/arm:1`],
        ['manifest', 'push', '--all', TLS, 'srclist', `docker://${reg.host}/lib/multi:1`],
      ]) {
        const r = b(args);
        expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      }
    }
  }, 180_000);
  afterAll(async () => {
    await Promise.all([reg?.stop(), reg2?.stop()]);
    await cleanup();
  });

  it('a list keeps its ID across create/add/annotate/remove; images lists it once with its current digest; two lists are two IDs', () => {
    const root = join(dir, 'ids');
    const id = ok(rt(['--root', root, 'manifest', 'create', 'keep'])).trim();
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    const other = ok(rt(['--root', root, 'manifest', 'create', 'other'])).trim();
    expect(other).not.toBe(id); // two empty lists are the same index, but two images
    const digests = [entryOf(root, 'localhost/keep:latest')[0]!.digest];
    expect(ok(rt(['--root', root, 'manifest', 'add', TLS, 'keep', `docker://${reg.host}/lib/amd:1`])).trim()).toBe(id);
    digests.push(entryOf(root, 'localhost/keep:latest')[0]!.digest);
    expect(ok(rt(['--root', root, 'manifest', 'annotate', '--annotation', 'k=v', 'keep', amdDigest])).trim()).toBe(id);
    digests.push(entryOf(root, 'localhost/keep:latest')[0]!.digest);
    expect(ok(rt(['--root', root, 'manifest', 'add', TLS, '--arch', 'arm64', 'keep', `docker://${reg.host}/lib/arm:1`])).trim()).toBe(id);
    expect(ok(rt(['--root', root, 'manifest', 'remove', 'keep', armDigest]))).toBe(`${id}: ${armDigest}\n`);
    const now = entryOf(root, 'localhost/keep:latest');
    expect(now).toHaveLength(1);
    digests.push(now[0]!.digest);
    expect(new Set(digests.slice(0, 3)).size).toBe(3); // every edit is a new index digest
    expect(digests[3]).toBe(digests[2]); // the arm64 entry added and removed again: the same index as before
    // images: one row for the list, its ID the stable one, its digest the current index's
    const rows = ok(rt(['--root', root, 'images', '--no-trunc', '--format', '{{.Repository}} {{.ID}} {{.Digest}}'])).split('\n').filter((l) => l.startsWith('localhost/keep '));
    expect(rows).toEqual([`localhost/keep sha256:${id} ${now[0]!.digest}`]);
    expect(ok(rt(['--root', root, 'images', '-q'])).split('\n').filter((l) => id.startsWith(l) && l !== '')).toHaveLength(1);
    // found by its ID (and a prefix of it), as any image
    expect(JSON.parse(ok(rt(['--root', root, 'manifest', 'inspect', id]))).manifests.map((m: Desc) => m.digest)).toEqual([amdDigest]);
    expect(rt(['--root', root, 'manifest', 'exists', id.slice(0, 12)]).status).toBe(0);
    expect(ok(rt(['--root', root, 'manifest', 'rm', 'keep']))).toBe(`Untagged: localhost/keep:latest\nDeleted: ${id}\n`);
  });

  it('manifest add docker://REF stores the manifest and config only (no layer blob); push --all copies the layers from their registry, mounted there', async () => {
    const root = join(dir, 'byref');
    const id = ok(rt(['--root', root, 'manifest', 'create', 'mylist'])).trim();
    const before = blobsOf(root);
    expect(ok(rt(['--root', root, 'manifest', 'add', TLS, 'mylist', `docker://${reg.host}/lib/amd:1`])).trim()).toBe(id);
    let added = [...blobsOf(root)].filter((d) => !before.has(d));
    // the manifest, its config, and the new index: no layer
    expect(added.filter((d) => layers.has(d))).toEqual([]);
    expect(new Set(added)).toEqual(new Set([amdDigest, amd.config!.digest, entryOf(root, 'localhost/mylist:latest')[0]!.digest]));
    if (hasBuildah) {
      // from an index: --all adds every image (the amd64 one is the same digest, replaced in place)
      ok(rt(['--root', root, 'manifest', 'add', '--all', TLS, 'mylist', `docker://${reg.host}/lib/multi:1`]));
    } else {
      ok(rt(['--root', root, 'manifest', 'add', TLS, 'mylist', `docker://${reg.host}/lib/arm:1`]));
    }
    added = [...blobsOf(root)].filter((d) => !before.has(d));
    expect(added.filter((d) => layers.has(d))).toEqual([]);
    expect(added.filter((d) => [armDigest, arm.config!.digest].includes(d))).toHaveLength(2);
    const idx = JSON.parse(ok(rt(['--root', root, 'manifest', 'inspect', 'mylist']))) as Doc;
    expect(idx.manifests!.map((m) => [m.digest, m.platform])).toEqual([
      [amdDigest, { architecture: 'amd64', os: 'linux' }],
      [armDigest, { architecture: 'arm64', os: 'linux' }],
    ]);
    // the store is consistent: the layers held by reference are not damage, and gc keeps what the list needs
    const check = rt(['--root', root, 'system', 'check']);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    ok(rt(['--root', root, 'image', 'prune', '-f']));
    expect(blobsOf(root).has(amd.config!.digest)).toBe(true);
    expect(ok(rt(['--root', root, 'images', '-q', '--no-trunc'])).split('\n').filter(Boolean)).toEqual([`sha256:${id}`]);

    // push --all to the same registry: every layer is mounted from its repository, none streamed through us
    const p = rt(['--root', root, 'manifest', 'push', '--all', TLS, 'mylist', `docker://${reg.host}/lib/pushed:1`]);
    expect(p.status, p.stderr).toBe(0);
    const reqs = await reg.requests();
    for (const l of layers) {
      expect(reqs.some((r) => r.startsWith('POST /v2/lib/pushed/blobs/uploads/') && decodeURIComponent(r).includes(`mount=${l}`)), l).toBe(true);
      expect(reqs.some((r) => r.startsWith('PUT /v2/lib/pushed/blobs/uploads/') && decodeURIComponent(r).includes(`digest=${l}`))).toBe(false);
    }
    const pushed = raw(`${reg.host}/lib/pushed:1`);
    expect(pushed.manifests!.map((m) => m.digest)).toEqual([amdDigest, armDigest]);
    // to another registry: the layers stream from the source registry through to it
    const p2 = rt(['--root', root, 'manifest', 'push', '--all', TLS, 'mylist', `docker://${reg2.host}/lib/copied:1`]);
    expect(p2.status, p2.stderr).toBe(0);
    expect(raw(`${reg2.host}/lib/copied:1`).manifests!.map((m) => m.digest)).toEqual([amdDigest, armDigest]);
    // every manifest and blob at both destinations verifies: skopeo copies the whole index and checks each digest
    for (const [i, ref] of [`${reg.host}/lib/pushed:1`, `${reg2.host}/lib/copied:1`].entries()) {
      const c = skopeo(['copy', '-q', '--all', '--src-tls-verify=false', `docker://${ref}`, `oci:${join(dir, `verify-${i}`)}:x`]);
      expect(c.status, c.stderr).toBe(0);
      for (const d of [amdDigest, armDigest]) expect(raw(`${ref.replace(/:1$/, '')}@${d}`).config).toBeDefined();
    }
    // still no layer in the store after the pushes
    expect([...blobsOf(root)].filter((d) => layers.has(d))).toEqual([]);
  });

  it('a list mixing a local image and a reference pushes both; build-tool manifest add is the same by-reference add', async () => {
    const root = join(dir, 'mixed');
    const src = join(dir, 'src');
    // a local image: copied into this store, complete
    await mkdir(root);
    const c = skopeo(['copy', '-q', `oci:${src}/images:localhost/tiny:latest`, `oci:${join(root, 'images')}:localhost/tiny:latest`]);
    expect(c.status, c.stderr).toBe(0);
    const bc = bt(['--root', root, 'manifest', 'create', 'mixed', 'localhost/tiny']);
    expect(bc.status, bc.stderr).toBe(0);
    const before = blobsOf(root);
    const ba = bt(['--root', root, 'manifest', 'add', TLS, 'mixed', `docker://${reg.host}/lib/amd:1`]);
    expect(ba.status, ba.stderr).toBe(0);
    expect([...blobsOf(root)].filter((d) => !before.has(d) && layers.has(d))).toEqual([]);
    const p = bt(['--root', root, 'manifest', 'push', '--all', TLS, 'mixed', `docker://${reg2.host}/lib/mixed:1`]);
    expect(p.status, p.stderr).toBe(0);
    expect(raw(`${reg2.host}/lib/mixed:1`).manifests!.map((m) => m.digest)).toEqual([armDigest, amdDigest]);
    const v = skopeo(['copy', '-q', '--all', '--src-tls-verify=false', `docker://${reg2.host}/lib/mixed:1`, `oci:${join(dir, 'verify-mixed')}:x`]);
    expect(v.status, v.stderr).toBe(0);
    // copy-tool reads the list the same way: the referenced layers come from their registry
    const out = join(dir, 'copied-mixed');
    const cc = spawnSync(process.execPath, [COPY_TOOL, 'copy', '--root', root, '--all', '--src-tls-verify=false', 'store:localhost/mixed:latest', `oci:${out}:x`], { encoding: 'utf8', timeout: 120_000 });
    expect(cc.status, cc.stderr).toBe(0);
    const copied = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')).manifests[0];
    for (const l of amd.layers!) expect(existsSync(join(out, 'blobs', 'sha256', l.digest.slice(7)))).toBe(true);
    expect(copied.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    // rmi by the list's ID removes it
    const row = ok(rt(['--root', root, 'images', '--no-trunc', '--format', '{{.Repository}} {{.ID}}'])).split('\n').find((l) => l.startsWith('localhost/mixed '));
    const id = row!.split(' ')[1]!.replace(/^sha256:/, '');
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    expect(ok(rt(['--root', root, 'rmi', id.slice(0, 12)]))).toContain(`Deleted: ${id}`);
    expect(rt(['--root', root, 'manifest', 'exists', 'mixed']).status).toBe(1);
  });

  it.skipIf(!hasBuildah)('side by side with buildah 1.28: the same add and push steps give the same index entries, and buildah stores no layer either', () => {
    const root = join(dir, 'side');
    const B = ['--root', join(dir, 'bside-root'), '--runroot', join(dir, 'bside-run'), '--storage-driver', 'vfs'];
    const b = (args: string[]) => spawnSync('buildah', [...B, ...args], { encoding: 'utf8', timeout: 120_000 });
    const steps = [
      ['manifest', 'create', 'side'],
      ['manifest', 'add', TLS, 'side', `docker://${reg.host}/lib/amd:1`],
      ['manifest', 'add', TLS, '--all', 'side', `docker://${reg.host}/lib/multi:1`],
      ['manifest', 'add', TLS, '--arch', 'arm', '--variant', 'v7', 'side', `docker://${reg.host}/lib/arm:1`],
      ['manifest', 'push', '--all', TLS, 'side', `docker://${reg.host}/lib/side-`],
    ];
    for (const [who, run] of [
      ['buildah', b],
      ['skiff', (args: string[]) => rt(['--root', root, ...args])],
    ] as const) {
      for (const s of steps) {
        const args = s[s.length - 1]!.endsWith('/side-') ? [...s.slice(0, -1), `${s[s.length - 1]}${who}:1`] : s;
        const r = run(args);
        expect(r.status, `${who} ${args.join(' ')}: ${r.stderr}`).toBe(0);
      }
    }
    const entries = (who: string) => raw(`${reg.host}/lib/side-${who}:1`).manifests!.map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: m.platform }));
    expect(entries('skiff')).toEqual(entries('buildah'));
    // buildah's storage holds no layer of these images either
    expect(b(['images', '-a', '-q']).stdout.trim().split('\n').filter(Boolean)).toHaveLength(1); // the list only
    for (const who of ['buildah', 'skiff']) {
      const c = skopeo(['copy', '-q', '--all', '--src-tls-verify=false', `docker://${reg.host}/lib/side-${who}:1`, `oci:${join(dir, `verify-side-${who}`)}:x`]);
      expect(c.status, c.stderr).toBe(0);
    }
  });
});
