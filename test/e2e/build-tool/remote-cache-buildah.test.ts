// Remote cache interop with Debian's buildah 1.28 through one real docker-registry on 127.0.0.1. buildah tags each
// step's intermediate image REPO:<its cache key>; its key hashes the created times of its own earlier steps, so
// build-tool can follow it from the base image through metadata and RUN steps as long as each came from buildah's
// cache, and stops at the first COPY/ADD (whose created_by holds buildah's own content digest). The other way no
// key meets: buildah finds none of build-tool's entries and builds everything — measured here, documented in README.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { hasBuildah, unpackLayout } from './buildah.ts';

const repo = resolve(import.meta.dirname, '../../..');
const env = { ...process.env, REGISTRY_AUTH_FILE: '', CONTAINERS_REGISTRIES_CONF: '' };
const tool = (args: string[]) => spawnSync(process.execPath, [join(repo, 'bin', 'build-tool.mjs'), ...args], { encoding: 'utf8', env, timeout: 180_000 });
const ran = (stderr: string) => stderr.split('\n').filter((l) => /^--> \d+\.\d+s$/u.test(l)).length;
const hits = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('--> Using cache')).length;

describe.skipIf(!isRoot || !hasBusybox || !hasBuildah || !existsSync(REGISTRY_BIN))('remote cache interop with buildah 1.28', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let ctx: string;
  const storages: string[][] = [];

  /** buildah with a fresh private vfs storage; `bud` args appended to the common ones. */
  function buildah(name: string, extra: string[]) {
    const args = ['--root', join(dir, `${name}-root`), '--runroot', join(dir, `${name}-run`), '--storage-driver', 'vfs'];
    storages.push(args);
    const r = spawnSync('buildah', [...args, 'bud', '--layers', '--isolation', 'oci', '--network', 'host', '--tls-verify=false', '--format', 'oci', ...extra, '-t', 'x', ctx], { encoding: 'utf8', timeout: 180_000 });
    return { ...r, args };
  }

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-build-rcache-bh-'));
    reg = await startRegistry();
    const seed = join(dir, 'seed');
    await makeBusyboxImage(seed, dir, 'localhost/busybox:latest');
    execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${seed}/images:localhost/busybox:latest`, `docker://${reg.host}/lib/busybox:1`]);
    ctx = join(dir, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'a.txt'), 'a\n');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${reg.host}/lib/busybox:1\nENV A=1\nRUN date +%s%N > /stamp\nRUN cat /stamp > /stamp-copy\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b\n`);
  }, 120_000);
  afterAll(async () => {
    for (const a of storages) spawnSync('buildah', [...a, 'rmi', '--all', '--force'], { stdio: 'ignore' });
    await reg?.stop();
    await cleanup?.();
  });

  it('build-tool reads buildah’s --cache-to entries up to the first COPY: the RUN results are buildah’s', async () => {
    const b = buildah('bh-a', ['--cache-to', `${reg.host}/ci/buildah-cache`]);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/Pushing cache/u);
    execFileSync('buildah', [...b.args, 'push', '-q', 'x', `oci:${join(dir, 'bh-out')}:x`]);
    const bimg = await unpackLayout(join(dir, 'bh-out'), 'x', join(dir, 'bh-rootfs'));
    const stamp = readFileSync(join(bimg.rootfs, 'stamp'), 'utf8');

    const s = tool(['--root', join(dir, 'skiff-from-buildah'), 'build', '--tls-verify=false', '--network', 'none', '--cache-from', `${reg.host}/ci/buildah-cache`, '-o', `type=local,dest=${join(dir, 'sk-out')}`, ctx]);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stderr).not.toMatch(/WARN/u);
    expect(hits(s.stderr)).toBe(2); // both RUNs before the COPY (ENV, a metadata step, keeps buildah's time too)
    expect(ran(s.stderr)).toBe(2); // the COPY and the RUN after it
    expect(readFileSync(join(dir, 'sk-out', 'stamp'), 'utf8')).toBe(stamp);
    expect(readFileSync(join(dir, 'sk-out', 'b'), 'utf8')).toBe('a\n');
  });

  it('buildah --cache-from over build-tool’s entries finds none of its keys and builds everything (the formats do not meet)', () => {
    const s = tool(['--root', join(dir, 'skiff-to'), 'build', '--tls-verify=false', '--network', 'none', '--cache-to', `${reg.host}/ci/skiff-cache`, ctx]);
    expect(s.status, s.stderr).toBe(0);
    const b = buildah('bh-b', ['--cache-from', `${reg.host}/ci/skiff-cache`]);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).not.toMatch(/Cache pulled from remote|Using cache/u);
  });
});
