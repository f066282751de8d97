// copy-tool copy end to end against a real registry and skopeo: a round trip through every transport keeps the
// digest, multi-arch selection, format and compression conversion, tags, digest files, progress output, retries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { scratchDir } from '../helpers/tmp.ts';
import { busyboxTarball, hasBusybox } from '../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { ct, ctAsync, ctJson, ok, skopeo, skopeoJson, startCountingProxy } from '../helpers/copy-tool.ts';
import { putIndex } from '../unit/transport/fixtures.ts';
import { refNames } from '../unit/transport/fixtures.ts';

const runTool = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/run-tool.mjs'), ...args], { encoding: 'utf8' });
const hasPodman = spawnSync('sh', ['-c', 'command -v podman']).status === 0;

interface RawManifest {
  mediaType?: string;
  config: { digest: string };
  layers: { mediaType: string; digest: string }[];
  manifests?: { digest: string; platform?: { architecture: string } }[];
}

describe.skipIf(!hasBusybox || !existsSync(REGISTRY_BIN))('copy-tool copy', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let root: string;
  let digest: string; // of store:bb:1 (OCI, gzip)
  let multi: Awaited<ReturnType<typeof putIndex>>;
  const T = ['--src-tls-verify=false', '--dest-tls-verify=false'];

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-ct-copy-'));
    reg = await startRegistry();
    root = join(dir, 'root');
    ok(runTool(['--root', root, 'import', '--change', 'ENV A=1', busyboxTarball(dir), 'bb:1']), 'run-tool import');
    digest = ctJson<{ Digest: string }>(['inspect', '--root', root, 'store:bb:1']).Digest;
    multi = await putIndex(join(dir, 'multi'), 'm');
  });
  afterAll(async () => {
    await reg?.stop();
    await cleanup?.();
  });

  /** copy-tool copy with the root, TLS off and a digest file; returns the digest written. */
  function copy(src: string, dst: string, extra: string[] = []): string {
    const df = join(dir, `digest-${Math.random().toString(36).slice(2)}`);
    const r = ct(['copy', '-q', '--root', root, ...T, '--digestfile', df, ...extra, src, dst]);
    expect(r.status, `${src} → ${dst}: ${r.stderr}`).toBe(0);
    expect(r.stdout).toBe('');
    const d = readFileSync(df, 'utf8');
    expect(d).toMatch(/^sha256:[a-f0-9]{64}$/); // the digest alone, no newline (skopeo's format)
    return d;
  }
  const raw = (ref: string): RawManifest => JSON.parse(ct(['inspect', '--raw', '--root', root, '--tls-verify=false', ref]).stdout) as RawManifest;

  it('store → docker → oci → oci-archive → dir → docker → store keeps the digest at every step', () => {
    const r = `docker://${reg.host}/rt/bb`;
    expect(copy('store:bb:1', `${r}:1`)).toBe(digest);
    expect(copy(`${r}:1`, `oci:${dir}/rt:1`)).toBe(digest);
    expect(copy(`oci:${dir}/rt:1`, `oci-archive:${dir}/rt.tar:1`)).toBe(digest);
    expect(copy(`oci-archive:${dir}/rt.tar:1`, `dir:${dir}/rtdir`)).toBe(digest);
    expect(copy(`dir:${dir}/rtdir`, `${r}:2`)).toBe(digest);
    expect(copy(`${r}:2`, 'store:rt-back:1')).toBe(digest);
    expect(ctJson<{ Digest: string }>(['inspect', '--root', root, 'store:rt-back:1']).Digest).toBe(digest);
    // the peer agrees on every copy
    for (const ref of [`oci:${dir}/rt:1`, `oci-archive:${dir}/rt.tar:1`, `dir:${dir}/rtdir`]) expect(skopeoJson<{ Digest: string }>(['inspect', ref]).Digest, ref).toBe(digest);
    expect(skopeoJson<{ Digest: string }>(['inspect', '--tls-verify=false', `${r}:2`]).Digest).toBe(digest);
  });

  it('docker-archive holds uncompressed layers; loading it back into a registry keeps the config and diff_ids', () => {
    copy('store:bb:1', `docker-archive:${dir}/bb-docker.tar:skiff/bb:1`);
    const m = raw(`docker-archive:${dir}/bb-docker.tar`);
    expect(m.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar')).toBe(true);
    const cfg = ct(['inspect', '--config', '--raw', '--root', root, 'store:bb:1']).stdout;
    expect(m.config.digest).toBe(raw('store:bb:1').config.digest);
    const manifestJson = JSON.parse(spawnSync('tar', ['-xOf', join(dir, 'bb-docker.tar'), 'manifest.json'], { encoding: 'utf8' }).stdout) as { RepoTags: string[] }[];
    expect(manifestJson[0]!.RepoTags).toEqual(['skiff/bb:1']);
    copy(`docker-archive:${dir}/bb-docker.tar`, `docker://${reg.host}/rt/bb:from-archive`);
    // loading it into a registry compresses the layers again, as skopeo does; the config (so the diff_ids) is unchanged
    expect(ct(['inspect', '--config', '--raw', '--tls-verify=false', `docker://${reg.host}/rt/bb:from-archive`]).stdout).toBe(cfg);
    const pushed = JSON.parse(ct(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/rt/bb:from-archive`]).stdout) as { layers: { mediaType: string }[] };
    expect(pushed.layers.map((l) => l.mediaType)).toEqual(m.layers.map(() => 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
    // the peer loads it too
    expect(skopeoJson<{ Layers: string[] }>(['inspect', `docker-archive:${dir}/bb-docker.tar`]).Layers).toEqual(m.layers.map((l) => l.digest));
  });

  it('--all copies the index; the default picks this platform; --platform picks another', () => {
    const idx = `docker://${reg.host}/multi/app`;
    expect(copy(`oci:${dir}/multi:m`, `${idx}:all`, ['--all'])).toBe(multi.index.digest);
    expect(raw(`${idx}:all`).manifests).toHaveLength(2);
    expect(skopeo(['copy', '--all', '--src-tls-verify=false', `${idx}:all`, `oci:${dir}/sk-multi:all`]).status).toBe(0);
    expect(copy(`${idx}:all`, `oci:${dir}/sys:x`)).toBe(multi.amd64.digest);
    expect(copy(`${idx}:all`, `oci:${dir}/arm:x`, ['--platform', 'linux/arm64'])).toBe(multi.arm64.digest);
    expect(copy(`${idx}:all`, `oci:${dir}/arm2:x`, ['--multi-arch', 'all'])).toBe(multi.index.digest);
    const bad = ct(['copy', ...T, '--platform', 'linux/s390x', `${idx}:all`, `oci:${dir}/none:x`]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/s390x/);
    expect(ct(['copy', ...T, '--multi-arch', 'some', `${idx}:all`, `oci:${dir}/none:x`]).status).toBe(1);
  });

  it('--multi-arch index-only copies the index without its images', () => {
    expect(copy(`oci:${dir}/multi:m`, `oci:${dir}/io:x`, ['--multi-arch', 'index-only'])).toBe(multi.index.digest);
    const blobs = readdirSync(join(dir, 'io/blobs/sha256'));
    expect(blobs).toContain(multi.index.digest.slice(7));
    expect(blobs).not.toContain(multi.amd64.digest.slice(7));
    expect(blobs).not.toContain(multi.arm64.digest.slice(7));
  });

  it('-f v2s2 / -f oci convert; --preserve-digests refuses a conversion and leaves no tag', () => {
    const v2 = copy('store:bb:1', `docker://${reg.host}/fmt/bb:v2s2`, ['-f', 'v2s2']);
    expect(v2).not.toBe(digest);
    expect(raw(`docker://${reg.host}/fmt/bb:v2s2`).mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(skopeoJson<{ Digest: string }>(['inspect', '--tls-verify=false', `docker://${reg.host}/fmt/bb:v2s2`]).Digest).toBe(v2);
    expect(copy(`docker://${reg.host}/fmt/bb:v2s2`, `oci:${dir}/fmt:oci`, ['--format', 'oci'])).toBe(digest);
    expect(raw(`oci:${dir}/fmt:oci`).mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    const r = ct(['copy', '--root', root, ...T, '--preserve-digests', '-f', 'v2s2', 'store:bb:1', `oci:${dir}/fmt:refused`]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('Error:'))).toHaveLength(1);
    expect(r.stderr).toMatch(/preserve/i);
    return refNames(join(dir, 'fmt')).then((names) => expect(names).toEqual(['oci']));
  });

  it('--dest-compress-format zstd writes zstd layers that skopeo reads', () => {
    const z = copy('store:bb:1', `docker://${reg.host}/zstd/bb:1`, ['--dest-compress-format', 'zstd']);
    expect(z).not.toBe(digest);
    const m = raw(`docker://${reg.host}/zstd/bb:1`);
    expect(m.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+zstd')).toBe(true);
    expect(m.config.digest).toBe(raw('store:bb:1').config.digest);
    const sk = skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/zstd/bb:1`, `oci:${dir}/sk-zstd:z`]);
    expect(sk.status, sk.stderr).toBe(0);
    expect(skopeoJson<{ Digest: string }>(['inspect', `oci:${dir}/sk-zstd:z`]).Digest).toBe(z);
    // and copy-tool decompresses it into the store (the store unpacks on run; here: a verified copy back to gzip)
    expect(copy(`oci:${dir}/sk-zstd:z`, `oci:${dir}/gz-again:g`, ['--dest-compress-format', 'gzip'])).not.toBe(z);
  });

  it('--additional-tag names the image under every tag (docker-archive RepoTags, store)', () => {
    copy('store:bb:1', `docker-archive:${dir}/tags.tar:skiff/bb:1`, ['--additional-tag', 'skiff/bb:2', '--additional-tag', 'other/x:3']);
    const mj = JSON.parse(spawnSync('tar', ['-xOf', join(dir, 'tags.tar'), 'manifest.json'], { encoding: 'utf8' }).stdout) as { RepoTags: string[] }[];
    expect(mj).toHaveLength(1);
    expect(mj[0]!.RepoTags.map((t) => t.replace(/^docker\.io\//, ''))).toEqual(['skiff/bb:1', 'skiff/bb:2', 'other/x:3']);
    copy('store:bb:1', 'store:tagged:1', ['--additional-tag', 'tagged:2']);
    expect(ctJson<{ Digest: string }>(['inspect', '--root', root, 'store:tagged:2']).Digest).toBe(digest);
  });

  it('-q prints nothing; a non-TTY stderr has one line per blob; --progress json gives JSON lines', () => {
    const q = ct(['copy', '-q', '--root', root, 'store:bb:1', `oci:${dir}/quiet:1`]);
    expect(q.status).toBe(0);
    expect(q.stdout).toBe('');
    expect(q.stderr).toBe('');
    const plain = ct(['copy', '--root', root, 'store:bb:1', `oci:${dir}/plain:1`]);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toBe('');
    const layers = raw('store:bb:1').layers.map((l) => l.digest.slice(7, 19));
    const starts = plain.stderr.split('\n').filter((l) => /^Copying blob [a-f0-9]{12}\b/.test(l));
    expect(starts.map((l) => l.slice(13, 25))).toEqual(layers);
    expect(plain.stderr).toMatch(/^Copying config [a-f0-9]{12}/m);
    expect(plain.stderr).toMatch(/^Writing manifest to image destination$/m);
    expect(plain.stderr).not.toMatch(/\x1b\[/); // no terminal escapes in a log
    const json = ct(['copy', '--progress', 'json', '--root', root, 'store:bb:1', `oci:${dir}/json:1`]);
    expect(json.status).toBe(0);
    expect(json.stdout).toBe('');
    const events = json.stderr.trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string; digest?: string; time: string });
    expect(events.every((e) => typeof e.time === 'string' && typeof e.kind === 'string')).toBe(true);
    expect(events.filter((e) => e.kind === 'blob-start').map((e) => e.digest)).toContain(`sha256:${readdirSync(join(dir, 'json/blobs/sha256')).find((b) => b.startsWith(layers[0]!))}`);
    expect(events.some((e) => e.kind === 'blob-done')).toBe(true);
  });

  it('skopeo (and podman, when installed) read what copy-tool pushed', () => {
    const r = `docker://${reg.host}/rt/bb:1`;
    const sk = skopeo(['copy', '--src-tls-verify=false', r, `oci:${dir}/skopeo-pulled:1`]);
    expect(sk.status, sk.stderr).toBe(0);
    expect(skopeoJson<{ Digest: string }>(['inspect', `oci:${dir}/skopeo-pulled:1`]).Digest).toBe(digest);
    if (!hasPodman) return; // podman is not installed here: nothing more to check
    const pull = spawnSync('podman', ['--root', join(dir, 'podman-root'), '--runroot', join(dir, 'podman-run'), 'pull', '--tls-verify=false', r.slice(9)], { encoding: 'utf8', timeout: 60_000 });
    expect(pull.status, pull.stderr).toBe(0);
  });

  it('--retry-times: a 503 fails the copy with 0 retries and is retried otherwise', async () => {
    const proxy = await startCountingProxy(reg.host);
    try {
      const src = `docker://${proxy.host}/rt/bb:1`;
      // the proxy runs in this process: the CLI must run asynchronously (spawnSync would block it)
      const isManifest = (m: string, p: string): boolean => p.includes('/manifests/');
      proxy.failNext(1, isManifest);
      const no = await ctAsync(['copy', '-q', ...T, '--retry-times', '0', src, `oci:${dir}/retry:0`]);
      expect(no.status).toBe(1);
      expect(no.stderr).toMatch(/503|unavailable|injected/i);
      proxy.failNext(1, isManifest);
      const yes = await ctAsync(['copy', '-q', ...T, '--retry-times', '2', src, `oci:${dir}/retry:2`]);
      expect(yes.status, yes.stderr).toBe(0);
      expect(proxy.requests.filter((q) => q.status === 503)).toHaveLength(2);
      expect(await refNames(join(dir, 'retry'))).toEqual(['2']);
    } finally {
      await proxy.stop();
    }
  });

  it('bad arguments: a name without transport, a missing source (exit 2), an unknown --format', () => {
    expect(ct(['copy', 'bb:1', `oci:${dir}/x:1`]).status).toBe(1);
    const missing = ct(['copy', ...T, `docker://${reg.host}/rt/absent:1`, `oci:${dir}/x:1`]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`${reg.host}/rt/absent:1`);
    expect(ct(['copy', '-f', 'v2s1', 'store:bb:1', `oci:${dir}/x:1`]).status).toBe(1);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});
