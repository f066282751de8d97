// Multi-platform builds (issue 18): `build-tool build --platform linux/amd64,linux/arm64` with -t / --manifest makes
// an OCI image index through the manifest-list code; the arm64 RUN runs under qemu-user-static (binfmt_misc, F flag,
// registered by scripts/register-binfmt.sh from the test set-up); checked with skopeo and podman after a push to a
// real registry on 127.0.0.1. The base images are local busybox-static images for amd64 and arm64.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxTarball, foreignBusybox, hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { emulatedArchitectures } from '../../../shared/runtime/emulation.ts';
import { hostPlatform } from '../../../shared/image/platform.ts';
import { asUserTool, makeUser, removeUser, type TestUser } from '../run-tool/rootless-helpers.ts';
import { openStore } from '../../../shared/store/store.ts';
import { exportRootfs } from '../../../shared/build/executor/image-out.ts';
import type { ImageConfig, Manifest } from '../../../shared/oci/types.ts';

const repo = resolve(import.meta.dirname, '../../..');
const tool = (name: 'build-tool' | 'run-tool', args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> =>
  spawnSync(process.execPath, [join(repo, 'bin', `${name}.mjs`), ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
const skopeo = (args: string[]) => spawnSync('skopeo', args, { encoding: 'utf8', timeout: 60_000 });
const onAmd64 = hostPlatform().architecture === 'amd64';
const arm64Busybox = foreignBusybox('arm64');
const emulated = (await emulatedArchitectures()).includes('linux/arm64');
// a CI run never skips for want of the set-up (scripts/test.sh registers the emulators and fetches the arm64 busybox)
if (process.env.CI && onAmd64 && (!arm64Busybox || !emulated)) {
  throw new Error(`multi-platform set-up missing (${!arm64Busybox ? 'no .cache/foreign/arm64/busybox' : 'no qemu-aarch64 in binfmt_misc'}): run bash scripts/test.sh as root`);
}

describe.skipIf(!onAmd64 || !hasBusybox || !arm64Busybox || !emulated || !existsSync(REGISTRY_BIN) || !existsSync(join(repo, 'dist', 'build-tool.mjs')))('multi-platform builds', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let root: string;
  let ctx: string;
  /** a binfmt_misc directory with nothing registered: skiff's view of a machine without emulators */
  let noEmulators: string;
  const bt = (args: string[], env: NodeJS.ProcessEnv = {}) => tool('build-tool', ['--root', root, ...args], env);
  const inspect = (name: string) => JSON.parse(bt(['manifest', 'inspect', name]).stdout) as { manifests: { digest: string; platform: { os: string; architecture: string } }[] };
  const index = () => readFileSync(join(root, 'images', 'index.json'), 'utf8');
  const blob = (digest: string) => JSON.parse(readFileSync(join(root, 'images', 'blobs', 'sha256', digest.slice(7)), 'utf8'));

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-multiarch-'));
    reg = await startRegistry();
    root = join(dir, 'store');
    await makeBusyboxImage(root, dir, 'localhost/busybox:amd64');
    await makeBusyboxImage(root, dir, 'localhost/busybox:arm64', 'arm64');
    const list = bt(['manifest', 'create', 'localhost/bb', 'localhost/busybox:amd64', 'localhost/busybox:arm64']);
    if (list.status !== 0) throw new Error(list.stderr);
    ctx = join(dir, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'f.txt'), 'from the context\n');
    await writeFile(join(ctx, 'Dockerfile'), 'FROM localhost/bb\nARG TARGETPLATFORM\nARG BUILDPLATFORM\nRUN echo "$TARGETPLATFORM built on $BUILDPLATFORM runs $(uname -m)" > /arch && cat /arch\nCOPY f.txt /f.txt\n');
    noEmulators = join(dir, 'binfmt-none');
    await mkdir(noEmulators);
    await writeFile(join(noEmulators, 'status'), 'enabled\n');
  }, 240_000);
  afterAll(async () => {
    await reg?.stop();
    await cleanup?.();
  });

  it('--platform a,b -t NAME: an arm64 RUN prints aarch64 under emulation; the index has both platforms and per-platform args', () => {
    const b = bt(['build', '--network', 'none', '--platform', 'linux/amd64,linux/arm64', '--jobs', '2', '-t', 'multi', ctx]);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).toContain('linux/arm64 built on linux/amd64 runs aarch64\n');
    expect(b.stderr).toContain('linux/amd64 built on linux/amd64 runs x86_64\n');
    expect(b.stderr).toContain('COMMIT localhost/multi:latest\n');
    // with several platforms each progress line names its platform
    expect(b.stderr).toMatch(/^\[linux\/arm64\] STEP 4\/5: RUN echo /m);
    expect(b.stderr).toMatch(/^\[linux\/amd64\] STEP 5\/5: COPY f.txt \/f.txt$/m);
    const idx = inspect('multi');
    expect(b.stdout.trim()).toMatch(/^[a-f0-9]{64}$/);
    expect(idx.manifests.map((m) => m.platform)).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux' },
    ]);
    // each entry is that platform's image: its config says so
    for (const m of idx.manifests) expect(blob(blob(m.digest).config.digest).architecture).toBe(m.platform.architecture);
    // the index is what the ID names (the digest of the stored list)
    expect(JSON.parse(index()).manifests.find((e: { annotations?: Record<string, string> }) => e.annotations?.['org.opencontainers.image.ref.name'] === 'localhost/multi:latest').digest).toBe(`sha256:${b.stdout.trim()}`);
  });

  it('--manifest NAME with a registry -t: skopeo reads the pushed index (raw and --override-arch arm64), podman runs the amd64 image', () => {
    const b = bt(['build', '--network', 'none', '--tls-verify=false', '--platform', 'linux/arm64,linux/amd64', '--manifest', 'pushed', '--cache-to', 'type=inline', '-t', `docker://${reg.host}/multi:1`, ctx]);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).not.toContain('nothing exported');
    const raw = skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/multi:1`]);
    expect(raw.status, raw.stderr).toBe(0);
    const doc = JSON.parse(raw.stdout) as { mediaType: string; manifests: { platform: { architecture: string; os: string } }[] };
    expect(doc.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(doc.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`)).toEqual(['linux/arm64', 'linux/amd64']);
    const arm = skopeo(['--override-arch', 'arm64', 'inspect', '--tls-verify=false', `docker://${reg.host}/multi:1`]);
    expect(arm.status, arm.stderr).toBe(0);
    expect(JSON.parse(arm.stdout).Architecture).toBe('arm64');
    const amd = skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/multi:1`]);
    expect(JSON.parse(amd.stdout).Architecture).toBe('amd64');

    const pd = join(dir, 'podman');
    const P = ['--root', join(pd, 'root'), '--runroot', join(pd, 'run'), '--storage-driver', 'vfs'];
    try {
      const r = spawnSync('podman', [...P, 'run', '--rm', '--network', 'none', '--tls-verify=false', `${reg.host}/multi:1`, 'cat', '/arch', '/f.txt'], { encoding: 'utf8', timeout: 180_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('linux/amd64 built on linux/amd64 runs x86_64\nfrom the context\n');
    } finally {
      spawnSync('podman', [...P, 'system', 'reset', '-f'], { stdio: 'ignore', timeout: 120_000 });
    }
  });

  it('a fresh runner (empty store) with --cache-from the inline cache: every step of both platforms is a hit, same index', async () => {
    const fresh = join(dir, 'fresh');
    await makeBusyboxImage(fresh, dir, 'localhost/busybox:amd64');
    await makeBusyboxImage(fresh, dir, 'localhost/busybox:arm64', 'arm64');
    const f = (args: string[]) => tool('build-tool', ['--root', fresh, ...args]);
    expect(f(['manifest', 'create', 'localhost/bb', 'localhost/busybox:amd64', 'localhost/busybox:arm64']).status).toBe(0);
    const b = f(['build', '--network', 'none', '--tls-verify=false', '--platform', 'linux/arm64,linux/amd64', '--cache-from', `type=registry,ref=${reg.host}/multi`, '-t', 'again', ctx]);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).not.toMatch(/--> \d+\.\d+s$/mu); // nothing ran
    expect(b.stderr.match(/--> Using cache/gmu)).toHaveLength(4);
    const raw = skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/multi:1`]);
    expect(b.stdout.trim()).toBe(createHash('sha256').update(raw.stdout).digest('hex'));
  });

  it('--format docker: the images are Docker v2s2 and -t names a Docker manifest list of them', () => {
    const b = bt(['build', '--network', 'none', '--format', 'docker', '--platform', 'linux/amd64,linux/arm64', '--jobs', '2', '-t', 'dockerlist', ctx]);
    expect(b.status, b.stderr).toBe(0);
    const raw = JSON.parse(readFileSync(join(root, 'images', 'blobs', 'sha256', b.stdout.trim()), 'utf8')) as { mediaType: string; manifests: { mediaType: string; platform: { architecture: string } }[] };
    expect(raw.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    expect(raw.manifests.map((m) => [m.mediaType, m.platform.architecture])).toEqual([
      ['application/vnd.docker.distribution.manifest.v2+json', 'amd64'],
      ['application/vnd.docker.distribution.manifest.v2+json', 'arm64'],
    ]);
  });

  it('--manifest adds to an existing list, replacing the entry of a rebuilt platform', async () => {
    const c2 = join(dir, 'ctx-add');
    await mkdir(c2);
    await writeFile(join(c2, 'Dockerfile'), 'FROM localhost/bb\nARG TARGETARCH\nLABEL arch=$TARGETARCH\n');
    // run-tool build shares the command (shared/cli/build-command.ts)
    for (const [t, p] of [['build-tool', 'linux/arm64'], ['run-tool', 'linux/amd64'], ['build-tool', 'linux/arm64']] as const) {
      const b = tool(t, ['--root', root, 'build', '--platform', p, '--manifest', 'grown', c2]);
      expect(b.status, b.stderr).toBe(0);
    }
    const idx = inspect('grown');
    expect(idx.manifests.map((m) => m.platform.architecture).sort()).toEqual(['amd64', 'arm64']);
    for (const m of idx.manifests) expect(blob(blob(m.digest).config.digest).config.Labels).toEqual({ arch: m.platform.architecture });
  });

  it('a foreign build whose only RUN is FROM --platform=$BUILDPLATFORM (and COPY) needs no emulator', async () => {
    const c3 = join(dir, 'ctx-cross');
    await mkdir(c3);
    await writeFile(join(c3, 'f.txt'), 'copied\n');
    await writeFile(join(c3, 'Dockerfile'), 'FROM --platform=$BUILDPLATFORM localhost/bb AS tools\nARG TARGETARCH\nRUN echo "made on $(uname -m) for $TARGETARCH" > /out\nFROM localhost/bb\nCOPY --from=tools /out /out\nCOPY f.txt /f.txt\n');
    // skiff sees no emulator at all (an empty binfmt_misc view): the build must not need one
    const b = bt(['build', '--network', 'none', '--platform', 'linux/amd64,linux/arm64', '-t', 'cross', c3], { SKIFF_BINFMT_DIR: noEmulators });
    expect(b.status, b.stderr).toBe(0);
    // the tools stage ran natively (x86_64), once per target platform with that platform's TARGETARCH
    expect(b.stderr).not.toContain('aarch64');
    // and a COPY-only build for arm64 alone
    await writeFile(join(c3, 'Containerfile.copy'), 'FROM localhost/bb\nCOPY f.txt /f.txt\n');
    const c = bt(['build', '--platform', 'linux/arm64', '-f', join(c3, 'Containerfile.copy'), '-t', 'copy-only', c3], { SKIFF_BINFMT_DIR: noEmulators });
    expect(c.status, c.stderr).toBe(0);
    const arm = inspect('cross').manifests.find((m) => m.platform.architecture === 'arm64')!;
    const m = blob(arm.digest) as Manifest;
    const config = blob(m.config.digest) as ImageConfig;
    expect(config.architecture).toBe('arm64');
    const out = join(dir, 'cross-arm64');
    const store = await openStore(root);
    try {
      await exportRootfs(store, m.layers.map((l, i) => ({ descriptor: l, diffId: config.rootfs.diff_ids[i]! })), out);
    } finally {
      await store.close();
    }
    expect(readFileSync(join(out, 'out'), 'utf8')).toBe('made on x86_64 for arm64\n');
    expect(readFileSync(join(out, 'f.txt'), 'utf8')).toBe('copied\n');
    expect(readFileSync(join(out, 'bin', 'busybox')).subarray(18, 20).readUInt16LE()).toBe(183); // e_machine: aarch64
  });

  it('a RUN for a platform with no registered emulator fails before anything runs: one line, exit 125, nothing stored', () => {
    const before = index();
    for (const platforms of ['linux/amd64,linux/arm64', 'linux/arm64']) {
      const b = bt(['build', '--network', 'none', '--platform', platforms, '-t', 'never', ctx], { SKIFF_BINFMT_DIR: noEmulators });
      expect(b.status).toBe(125);
      expect(b.stderr).toBe(
        'Error: building at STEP "RUN echo "$TARGETPLATFORM built on $BUILDPLATFORM runs $(uname -m)" > /arch && cat /arch" (line 4): no emulator for linux/arm64 is registered in binfmt_misc on this linux/amd64 machine; install qemu-user-static and register qemu-aarch64 with the F flag (as root: scripts/register-binfmt.sh), or build for linux/amd64\n',
      );
      expect(b.stdout).toBe('');
      expect(index()).toBe(before);
    }
  });

  it('bad --platform lists and flags that cannot go with several platforms: one line, exit 125; no name: a warning', () => {
    const before = index();
    const r1 = bt(['build', '--platform', 'linux/amd64,', '-t', 'never', ctx]);
    expect(r1.status).toBe(125);
    expect(r1.stderr).toMatch(/^Error: invalid --platform "linux\/amd64,": empty entry; [^\n]*\n$/);
    const r2 = bt(['build', '--platform', 'linux/amd64,linux/arm64', '-o', join(dir, 'out'), ctx]);
    expect(r2.status).toBe(125);
    expect(r2.stderr).toMatch(/^Error: --output cannot be used with several platforms; [^\n]*\n$/);
    expect(index()).toBe(before);
    // several platforms and no name at all: built, with a warning that nothing names them
    const c4 = join(dir, 'ctx-noname');
    mkdirSync(c4);
    writeFileSync(join(c4, 'Dockerfile'), 'FROM localhost/bb\nLABEL x=1\n');
    const r3 = bt(['build', '--platform', 'linux/amd64,linux/arm64', c4]);
    expect(r3.status, r3.stderr).toBe(0);
    expect(r3.stderr).toContain('WARN: several platforms built without -t or --manifest: their images are stored without a name and no list holds them\n');
    expect(r3.stdout).toMatch(/^[a-f0-9]{64}\n$/);
  });

  it('run-tool info reports the emulated architectures under host', () => {
    const i = tool('run-tool', ['--root', root, 'info', '--format', 'json']);
    expect(i.status, i.stderr).toBe(0);
    expect(JSON.parse(i.stdout).host.emulatedArchitectures).toContain('linux/arm64');
    const none = tool('run-tool', ['--root', root, 'info', '--format', 'json'], { SKIFF_BINFMT_DIR: noEmulators });
    expect(JSON.parse(none.stdout).host.emulatedArchitectures).toEqual([]);
  });

  describe.skipIf(!isRoot)('rootless', () => {
    let u: TestUser | undefined;
    afterAll(() => {
      if (u) removeUser(u);
    });

    it('an ordinary user with subuid ranges builds both platforms (arm64 under emulation) into an index', () => {
      chmodSync(dir, 0o755);
      u = makeUser(`skiff-ma-${process.pid % 100000}`, true);
      const home = u.home;
      const amdTar = busyboxTarball(dir);
      const armTar = busyboxTarball(dir, 'arm64');
      for (const t of [amdTar, armTar]) chmodSync(t, 0o644);
      const ut = (args: string[]) => asUserTool(u!, 'build-tool', args, { timeout: 300_000 });
      const rt = (args: string[]) => asUserTool(u!, 'run-tool', args, { timeout: 120_000 });
      for (const [tar, name, arch] of [[amdTar, 'bb:amd64', 'amd64'], [armTar, 'bb:arm64', 'arm64']] as const) {
        const imp = rt(['import', '--platform', `linux/${arch}`, tar, name]);
        if (imp.status !== 0) throw new Error(`import as ${u.name} failed: ${imp.stderr}`);
      }
      expect(ut(['manifest', 'create', 'bb', 'localhost/bb:amd64', 'localhost/bb:arm64']).status).toBe(0);
      const c = join(home, 'ctx');
      mkdirSync(c);
      writeFileSync(join(c, 'Dockerfile'), 'FROM localhost/bb\nRUN uname -m > /m && cat /m && id -u\n');
      spawnSync('chown', ['-R', `${u.uid}:${u.gid}`, c]);
      const b = ut(['build', '--network', 'none', '--platform', 'linux/amd64,linux/arm64', '--jobs', '2', '--manifest', 'both', c]);
      expect(b.status, b.stderr).toBe(0);
      expect(b.stderr).toContain('aarch64\n');
      expect(b.stderr).toContain('x86_64\n');
      const idx = JSON.parse(ut(['manifest', 'inspect', 'both']).stdout) as { manifests: { platform: { architecture: string } }[] };
      expect(idx.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
    });
  });
});
