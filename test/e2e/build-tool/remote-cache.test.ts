// The registry-backed layer cache (issue 18, "Remote cache"): two stores stand for two CI runners sharing one real
// docker-registry on 127.0.0.1. Runner A builds with --cache-to; runner B starts empty and builds the same
// context with --cache-from: every step is a hit, B downloads only the final image's layers (counted in the
// registry's access log), and the image is A's, byte for byte.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';

const repo = resolve(import.meta.dirname, '../../..');
const env = { ...process.env, REGISTRY_AUTH_FILE: '', CONTAINERS_REGISTRIES_CONF: '' };

function tool(name: string, args: string[]) {
  return spawnSync(process.execPath, [join(repo, 'bin', `${name}.mjs`), ...args], { encoding: 'utf8', env, timeout: 180_000 });
}

/** The image's manifest (layers, config) as stored under `name` in the store at `root`. */
function storedManifest(root: string, name: string): { config: { digest: string }; layers: { digest: string; size: number }[] } {
  const r = spawnSync('skopeo', ['inspect', '--raw', `oci:${root}/images:${name}`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { config: { digest: string }; layers: { digest: string; size: number }[] };
}

/** Digests of the blobs GET-requested from the registry in `lines`. */
function blobGets(lines: string[]): string[] {
  return lines.flatMap((l) => {
    const m = /^GET \/v2\/\S+\/blobs\/(sha256:[0-9a-f]{64}) /u.exec(l);
    return m ? [m[1]!] : [];
  });
}

/** Steps that ran (build-tool prints `--> 0.123s` after each step it executed, `--> Using cache …` for hits). */
const ran = (stderr: string) => stderr.split('\n').filter((l) => /^--> \d+\.\d+s$/u.test(l)).length;
const hits = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('--> Using cache')).length;

describe.skipIf(!isRoot || !hasBusybox || !existsSync(REGISTRY_BIN))('build-tool --cache-to / --cache-from through a registry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let ctx: string;
  let storeA: string;
  let idA: string;
  let stampA: string;
  const CACHE = () => `${reg.host}/ci/app-cache`;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-build-rcache-'));
    reg = await startRegistry({ accessLog: true, deleteEnabled: true });
    const seed = join(dir, 'seed');
    await makeBusyboxImage(seed, dir, 'localhost/busybox:latest');
    const c = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${seed}/images:localhost/busybox:latest`, `docker://${reg.host}/lib/busybox:1`], { encoding: 'utf8' });
    expect(c.status, c.stderr).toBe(0);
    ctx = join(dir, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'a.txt'), 'a\n');
    writeFileSync(join(ctx, 'b.txt'), 'b\n');
    // a tools stage whose layer the final image does not hold (mode=max exports it; B must not download it)
    writeFileSync(
      join(ctx, 'Dockerfile'),
      `FROM ${reg.host}/lib/busybox:1 AS tools
RUN date +%s%N > /built-at && head -c 300000 /dev/urandom > /big
FROM ${reg.host}/lib/busybox:1
ENV A=1
COPY a.txt /a.txt
COPY --from=tools /built-at /tools-at
RUN date +%s%N > /stamp && cat /a.txt > /copy
COPY b.txt /b.txt
RUN cat /b.txt > /b2 && date +%s%N > /stamp2
CMD ["cat", "/stamp"]
`,
    );
    storeA = join(dir, 'runner-a');
    const a = tool('build-tool', ['--root', storeA, 'build', '--tls-verify=false', '--network', 'none', '--cache-to', `type=registry,ref=${CACHE()},mode=max`, '-t', 'app', '-o', `type=local,dest=${join(dir, 'out-a')}`, ctx]);
    expect(a.status, a.stderr).toBe(0);
    expect(ran(a.stderr)).toBe(6);
    idA = a.stdout.trim();
    stampA = readFileSync(join(dir, 'out-a', 'stamp'), 'utf8');
  }, 300_000);
  afterAll(async () => {
    await reg?.stop();
    await cleanup?.();
  });

  it('an empty runner with --cache-from hits every step, downloads only the final image’s layers, and makes A’s image', async () => {
    const storeB = join(dir, 'runner-b');
    const before = (await reg.requests()).length;
    const b = tool('build-tool', ['--root', storeB, 'build', '--tls-verify=false', '--network', 'none', '--cache-from', CACHE(), '-t', 'app', '-o', `type=local,dest=${join(dir, 'out-b')}`, ctx]);
    expect(b.status, b.stderr).toBe(0);
    expect(ran(b.stderr)).toBe(0);
    expect(hits(b.stderr)).toBe(6);
    expect(b.stderr).not.toMatch(/WARN/u);
    expect(b.stdout.trim()).toBe(idA);
    // the RUN that wrote the time kept runner A's value
    expect(readFileSync(join(dir, 'out-b', 'stamp'), 'utf8')).toBe(stampA);
    const image = storedManifest(storeB, 'localhost/app:latest');
    expect(image.config.digest).toBe(`sha256:${idA}`);
    expect(image).toEqual(storedManifest(storeA, 'localhost/app:latest')); // the manifest too: A's image, byte for byte
    const gets = blobGets((await reg.requests()).slice(before));
    // the base image's config (pulled for FROM) and each layer of the final image, once; nothing else — not the
    // tools stage's 300 kB layer, although the cache holds it
    const imageLayers = image.layers.map((l) => l.digest);
    expect(gets.filter((d) => !imageLayers.includes(d))).toHaveLength(1);
    expect([...gets].sort()).toEqual([...new Set(gets)].sort());
    expect(gets.filter((d) => imageLayers.includes(d)).sort()).toEqual(image.layers.map((l) => l.digest).sort());
    // …while the cache does hold a layer the image does not: the tools stage's (mode=max)
    const cached = await cacheLayers('ci/app-cache');
    expect(cached.filter((d) => !imageLayers.includes(d))).toHaveLength(1);
    expect(gets).not.toContain(cached.find((d) => !imageLayers.includes(d)));
  });

  /** The layer digests of every entry in cache repository `name`. */
  async function cacheLayers(name: string): Promise<string[]> {
    const { tags } = (await (await fetch(`${reg.url}/v2/${name}/tags/list`)).json()) as { tags: string[] };
    const out: string[] = [];
    for (const t of tags) {
      const m = (await (await fetch(`${reg.url}/v2/${name}/manifests/${t}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { layers: { digest: string }[] };
      out.push(...m.layers.map((l) => l.digest));
    }
    return out;
  }

  /** A build of `context` from an empty store with `flags`; its exit status, stderr, image ID and step counts. */
  function fresh(name: string, flags: string[], context = ctx) {
    const r = tool('build-tool', ['--root', join(dir, name), 'build', '--tls-verify=false', '--network', 'none', ...flags, context]);
    expect(r.status, r.stderr).toBe(0);
    return { stderr: r.stderr, id: r.stdout.trim().split('\n').pop()!, ran: ran(r.stderr), hits: hits(r.stderr) };
  }

  it('type=local writes an OCI layout another runner reads with type=local,src=', () => {
    const cacheDir = join(dir, 'local-cache');
    fresh('local-a', ['--cache-to', `type=local,dest=${cacheDir},mode=max`]);
    // runner A's store already had every step: exporting from cache hits writes them all the same
    const a = tool('build-tool', ['--root', storeA, 'build', '--tls-verify=false', '--network', 'none', '--cache-to', `type=local,dest=${join(dir, 'local-cache-2')},mode=max`, ctx]);
    expect(a.status, a.stderr).toBe(0);
    expect(existsSync(join(dir, 'local-cache-2', 'index.json'))).toBe(true);
    const b = fresh('local-b', ['--cache-from', `type=local,src=${join(dir, 'local-cache-2')}`]);
    expect(b).toMatchObject({ id: idA, ran: 0, hits: 6 });
    expect(spawnSync('skopeo', ['inspect', '--raw', `oci:${cacheDir}:${JSON.parse(readFileSync(join(cacheDir, 'index.json'), 'utf8')).manifests[0].annotations['org.opencontainers.image.ref.name']}`]).status).toBe(0);
  });

  it('type=inline writes the entries beside the pushed image; --cache-from that image reads them', () => {
    const a = tool('build-tool', ['--root', storeA, 'build', '--tls-verify=false', '--network', 'none', '--cache-to', 'type=inline', '-t', `docker://${reg.host}/ci/app:1`, ctx]);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout.trim()).toBe(idA); // the image is not changed by the option
    // inline is mode=min, as BuildKit's: the tools stage is not in it and runs again
    expect(fresh('inline-b', ['--cache-from', `type=registry,ref=${reg.host}/ci/app:1`])).toMatchObject({ id: idA, ran: 1, hits: 5 });
  });

  it('mode=min exports only the image’s stages: the tools stage runs again, everything else is a hit', () => {
    const a = tool('build-tool', ['--root', storeA, 'build', '--tls-verify=false', '--network', 'none', '--cache-to', `type=registry,ref=${reg.host}/ci/min`, ctx]);
    expect(a.status, a.stderr).toBe(0);
    expect(fresh('min-b', ['--cache-from', `${reg.host}/ci/min`])).toMatchObject({ id: idA, ran: 1, hits: 5 });
  });

  it('--cache-ttl ignores entries built longer ago; an unreachable cache source is a warning, not a failure', () => {
    expect(fresh('ttl-b', ['--cache-from', CACHE(), '--cache-ttl', '1ms'])).toMatchObject({ ran: 6, hits: 0 });
    const r = fresh('down-b', ['--cache-from', '127.0.0.1:1/nothing', '--cache-from', CACHE()]);
    expect(r).toMatchObject({ id: idA, ran: 0 });
    expect(r.stderr).toMatch(/WARN: cache source 127\.0\.0\.1:1\/nothing not used/u);
  });

  it('an entry moved under another step’s tag is ignored with a warning (it names its own key)', async () => {
    const a = tool('build-tool', ['--root', storeA, 'build', '--tls-verify=false', '--network', 'none', '--cache-to', `${reg.host}/ci/moved`, ctx]);
    expect(a.status, a.stderr).toBe(0);
    const { tags } = (await (await fetch(`${reg.url}/v2/ci/moved/tags/list`)).json()) as { tags: string[] };
    const accept = { accept: 'application/vnd.oci.image.manifest.v1+json' };
    const bytes = await (await fetch(`${reg.url}/v2/ci/moved/manifests/${tags[0]}`, { headers: accept })).arrayBuffer();
    const put = await fetch(`${reg.url}/v2/ci/moved/manifests/${tags[1]}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: bytes });
    expect(put.status).toBe(201);
    const r = fresh('moved-b', ['--cache-from', `${reg.host}/ci/moved`]);
    expect(r.stderr).toMatch(new RegExp(`WARN: cache entry ${reg.host.replace(/[.]/gu, '\\.')}/ci/moved:${tags[1]!.slice(0, 12)} ignored: it records key sha256:${tags[0]}`, 'u'));
  });

  it('a --cache-to that cannot be written fails the build with one line, unless it says ignore-error=true', () => {
    const args = (spec: string) => ['--root', storeA, 'build', '--tls-verify=false', '--network', 'none', '--cache-to', spec, ctx];
    const bad = tool('build-tool', args('127.0.0.1:1/nowhere'));
    expect(bad.status).toBe(125);
    expect(bad.stderr).toMatch(/exporting the build cache to 127\.0\.0\.1:1\/nowhere/u);
    const ok = tool('build-tool', args('type=registry,ref=127.0.0.1:1/nowhere,ignore-error=true'));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe(idA);
    expect(ok.stderr).toMatch(/WARN: exporting the build cache to 127\.0\.0\.1:1\/nowhere failed \(ignore-error=true\)/u);
    // a malformed spec stops the build before STEP 1, with one line
    const malformed = tool('build-tool', args('type=s3,bucket=b'));
    expect(malformed.status).toBe(125);
    expect(malformed.stderr).not.toMatch(/STEP 1/u);
    expect(malformed.stderr.trim().split('\n')[0]).toMatch(/--cache-to "type=s3,bucket=b"/u);
  });

  it('--cache-mounts carries RUN --mount=type=cache contents to another runner (off by default)', () => {
    const mctx = join(dir, 'mctx');
    mkdirSync(mctx);
    writeFileSync(join(mctx, 'Dockerfile'), `FROM ${reg.host}/lib/busybox:1\nARG V\nRUN --mount=type=cache,target=/c,id=downloads sh -c 'echo "$V" >> /c/log; cat /c/log > /seen'\n`);
    const build = (name: string, v: string, flags: string[]) => {
      const r = tool('build-tool', ['--root', join(dir, name), 'build', '--tls-verify=false', '--network', 'none', '--build-arg', `V=${v}`, ...flags, '-o', `type=local,dest=${join(dir, `${name}-out`)}`, mctx]);
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(join(dir, `${name}-out`, 'seen'), 'utf8');
    };
    expect(build('mounts-a', 'a', ['--cache-to', `${reg.host}/ci/mounts`, '--cache-mounts'])).toBe('a\n');
    // another runner, another build arg (so the RUN runs): its cache mount starts with runner A's contents
    expect(build('mounts-b', 'b', ['--cache-from', `${reg.host}/ci/mounts`, '--cache-mounts'])).toBe('a\nb\n');
    expect(build('mounts-c', 'c', ['--cache-from', `${reg.host}/ci/mounts`])).toBe('c\n');
  });

  it('a tampered cache-mount entry is ignored with a warning: the mount starts empty', async () => {
    const tag = `mount-${createHash('sha256').update('downloads').digest('hex')}`;
    const m = (await (await fetch(`${reg.url}/v2/ci/mounts/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { layers: { digest: string; size: number }[] };
    const l = m.layers[0]!;
    writeFileSync(join(reg.dataDir, 'docker/registry/v2/blobs/sha256', l.digest.slice(7, 9), l.digest.slice(7), 'data'), randomBytes(l.size));
    const r = tool('build-tool', ['--root', join(dir, 'mounts-d'), 'build', '--tls-verify=false', '--network', 'none', '--build-arg', 'V=d', '--cache-from', `${reg.host}/ci/mounts`, '--cache-mounts', '-o', `type=local,dest=${join(dir, 'mounts-d-out')}`, join(dir, 'mctx')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARN: cache mount "downloads" from \S+ ignored: .*it starts empty/u);
    expect(readFileSync(join(dir, 'mounts-d-out', 'seen'), 'utf8')).toBe('d\n');
  });

  it('after one source file changes, only the steps from its COPY on run; the steps before keep A’s results', () => {
    const ctx2 = join(dir, 'ctx2');
    spawnSync('cp', ['-a', ctx, ctx2]);
    writeFileSync(join(ctx2, 'b.txt'), 'changed\n');
    const c = tool('build-tool', ['--root', join(dir, 'runner-c'), 'build', '--tls-verify=false', '--network', 'none', '--cache-from', `type=registry,ref=${CACHE()}`, '-o', `type=local,dest=${join(dir, 'out-c')}`, ctx2]);
    expect(c.status, c.stderr).toBe(0);
    expect(ran(c.stderr)).toBe(2); // COPY b.txt and the RUN after it
    expect(hits(c.stderr)).toBe(4);
    expect(readFileSync(join(dir, 'out-c', 'stamp'), 'utf8')).toBe(stampA);
    expect(readFileSync(join(dir, 'out-c', 'b2'), 'utf8')).toBe('changed\n');
  });

  it('a cache entry whose layer was tampered with in the registry is ignored with a warning and its step is built', () => {
    // the RUN /stamp layer (4th of the final image) gets other bytes of the same size in the registry's storage
    const stampLayer = storedManifest(storeA, 'localhost/app:latest').layers[3]!;
    const dataDir = join(reg.dataDir, 'docker/registry/v2/blobs/sha256', stampLayer.digest.slice(7, 9), stampLayer.digest.slice(7));
    expect(readdirSync(dataDir)).toContain('data');
    writeFileSync(join(dataDir, 'data'), randomBytes(stampLayer.size));
    const d = tool('build-tool', ['--root', join(dir, 'runner-d'), 'build', '--tls-verify=false', '--network', 'none', '--cache-from', CACHE(), '-o', `type=local,dest=${join(dir, 'out-d')}`, ctx]);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stderr).toMatch(new RegExp(`WARN: cache entry ${CACHE().replace(/[.]/gu, '\\.')}:[0-9a-f]{12} ignored: its layer ${stampLayer.digest} does not verify`, 'u'));
    expect(d.stdout.trim()).not.toBe(idA);
    // the step was built again: a new time, the file it copied still right
    expect(readFileSync(join(dir, 'out-d', 'stamp'), 'utf8')).not.toBe(stampA);
    expect(readFileSync(join(dir, 'out-d', 'copy'), 'utf8')).toBe('a\n');
  });
});
