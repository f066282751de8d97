// Expected-value tests for Dockerfile behaviour where buildah 1.28 differs from BuildKit or lacks the feature, so
// the differential tests cannot cover it (each case says why): ADD --chown of a local archive, a trailing WORKDIR
// with layers, COPY --link, cache mounts seeded from a stage, --platform for a foreign architecture, and the
// unconsumed build-args warning through the CLI.
import { execFileSync, spawnSync } from 'node:child_process';
import { lstat, mkdir, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { describeTree } from './buildah.ts';
import { makeWorld, type World } from './harness.ts';

const repo = resolve(import.meta.dirname, '../../..');
const BUILD_TOOL = join(repo, 'bin', 'build-tool.mjs');

const owner = async (p: string) => {
  const st = await lstat(p);
  return `${st.uid}:${st.gid}`;
};
const mode = async (p: string) => ((await lstat(p)).mode & 0o7777).toString(8);

/** A 64-byte ELF header for aarch64: the kernel here (x86_64, no binfmt_misc) refuses it with ENOEXEC. */
function aarch64Elf(): Buffer {
  const b = Buffer.alloc(64 + 56);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(b, 0);
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(0xb7, 18); // EM_AARCH64
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(0x400078n, 24);
  b.writeBigUInt64LE(64n, 32);
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(1, 56);
  return b;
}

describe.skipIf(!isRoot || !hasBusybox)('build: BuildKit behaviour where buildah 1.28 differs (expected values)', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(async () => w?.cleanup());

  it('ADD --chown of a local tar.gz owns every extracted entry (BuildKit; buildah 1.28 keeps the archive owners); --chmod leaves archive modes', async () => {
    const t = join(w.dir, 'chown-tar');
    await mkdir(join(t, 'd/e'), { recursive: true });
    await writeFile(join(t, 'd/e/f.txt'), 'from tar\n');
    await writeFile(join(t, 'top'), 'top\n');
    execFileSync('sh', ['-c', `cd ${t} && chmod 750 d && chmod 640 top && ln -s d/e/f.txt lnk && ln top hard && chown -R 7:8 . && chown -h 7:8 lnk && tar --numeric-owner -czf ${w.ctx}/own.tar.gz d top lnk hard && tar --numeric-owner -cf ${w.ctx}/own.tar d top`]);
    const df = [
      'FROM localhost/busybox',
      'ADD --chown=11:12 own.tar.gz /x/',
      'ADD --chown=nobody own.tar /n/',
      'ADD --chown=11:12 --chmod=600 own.tar.gz /m/',
      'ADD own.tar.gz /keep/',
      '',
    ].join('\n');
    await w.build(df, { tags: ['addchown'] });
    const { rootfs } = await w.image('addchown');
    for (const p of ['x', 'x/d', 'x/d/e', 'x/d/e/f.txt', 'x/top', 'x/lnk', 'x/hard']) expect(`${p} ${await owner(join(rootfs, p))}`).toBe(`${p} 11:12`);
    expect(await readlink(join(rootfs, 'x/lnk'))).toBe('d/e/f.txt');
    expect((await lstat(join(rootfs, 'x/hard'))).ino).toBe((await lstat(join(rootfs, 'x/top'))).ino);
    expect(await readFile(join(rootfs, 'x/d/e/f.txt'), 'utf8')).toBe('from tar\n');
    // archive modes kept
    expect(await mode(join(rootfs, 'x/d'))).toBe('750');
    expect(await mode(join(rootfs, 'x/top'))).toBe('640');
    // a user name alone: its uid and primary group from the stage's /etc/passwd
    expect(await owner(join(rootfs, 'n/d/e/f.txt'))).toBe('65534:65534');
    expect(await owner(join(rootfs, 'n'))).toBe('65534:65534');
    // --chmod is not applied to extracted entries (BuildKit and buildah agree)
    expect(await mode(join(rootfs, 'm/top'))).toBe('640');
    expect(await owner(join(rootfs, 'm/top'))).toBe('11:12');
    // without --chown the archive's owners stay
    expect(await owner(join(rootfs, 'keep/d/e/f.txt'))).toBe('7:8');
    expect(await owner(join(rootfs, 'keep/lnk'))).toBe('7:8');
  });

  it('a WORKDIR after the last RUN/COPY/ADD of a stage is in the image, owned by its USER, one layer on the WORKDIR entry; cached on rebuild', async () => {
    // buildah 1.28 with --layers leaves it out (without --layers it makes it: differential.test.ts compares that)
    const df = 'FROM localhost/busybox\nRUN true\nUSER nobody\nWORKDIR /wd/last\nENV X=1\nUSER root\n';
    const r1 = await w.build(df, { tags: ['wdlast'] });
    expect(r1.stats.layers).toBe(1);
    const img = await w.image('wdlast');
    expect(await owner(join(img.rootfs, 'wd/last'))).toBe('65534:65534');
    expect(await owner(join(img.rootfs, 'wd'))).toBe('65534:65534');
    expect(img.config.config?.WorkingDir).toBe('/wd/last');
    const hist = img.config.history ?? [];
    expect(hist.filter((h) => !h.empty_layer).length).toBe(img.manifest.layers.length);
    const wdEntry = hist.find((h) => h.created_by?.includes('WORKDIR /wd/last'));
    expect(wdEntry?.empty_layer).toBeUndefined();
    expect(hist.at(-1)?.empty_layer).toBe(true);
    const r2 = await w.build(df, { tags: ['wdlast'] });
    expect(r2.id).toBe(r1.id);
    expect(r2.stats).toMatchObject({ runs: 0, layers: 0 });
    // a WORKDIR that already exists adds nothing; a later stage FROM this one and COPY --from see the directory
    const df2 = 'FROM localhost/busybox AS a\nWORKDIR /tmp\nWORKDIR /made\nFROM a\nRUN test -d /made && touch ok\nFROM localhost/busybox\nCOPY --from=a /made /copied\n';
    await w.build(df2, { tags: ['wdlast2'], target: '1' });
    const img2 = await w.image('wdlast2');
    expect((await lstat(join(img2.rootfs, 'made/ok'))).isFile()).toBe(true);
    await w.build(df2, { tags: ['wdlast3'] });
    expect((await lstat(join((await w.image('wdlast3')).rootfs, 'copied'))).isDirectory()).toBe(true);
    const img0 = await w.build('FROM localhost/busybox\nWORKDIR /tmp\n', { tags: ['wdtmp'] });
    expect(img0.stats.layers).toBe(0);
    expect((await w.image('wdtmp')).manifest.layers.length).toBe(1);
  });

  it('COPY --link is accepted and gives the same tree as a plain COPY (buildah 1.28 rejects --link)', async () => {
    await w.files({ 'lk/a.txt': 'a\n', 'lk/sub/b.txt': 'b\n' });
    await symlink('a.txt', join(w.ctx, 'lk/ln'));
    await w.build('FROM localhost/busybox\nCOPY --link --chown=7:8 lk /dst/\nCOPY --link lk/a.txt /one\n', { tags: ['link'] });
    await w.build('FROM localhost/busybox\nCOPY --chown=7:8 lk /dst/\nCOPY lk/a.txt /one\n', { tags: ['nolink'] });
    const a = await w.image('link');
    const b = await w.image('nolink');
    const ta = await describeTree(a.rootfs);
    expect(ta).toEqual(await describeTree(b.rootfs));
    expect(ta['dst/sub/b.txt']).toMatch(/^file 0644 7:8 /);
    expect(ta['one']).toMatch(/^file 0644 0:0 /);
    expect(a.manifest.layers.length).toBe(b.manifest.layers.length);
  });

  it('RUN --mount=type=cache,from=STAGE,source=P seeds an empty cache from that stage; later builds see the cache, not the stage', async () => {
    const df = (v: string) =>
      [
        'FROM localhost/busybox AS seed',
        `RUN mkdir -p /s/sub && echo ${v} > /s/sub/f && ln -s sub/f /s/ln && chown -R 5:6 /s/sub`,
        'FROM localhost/busybox',
        `RUN --mount=type=cache,id=seeded,from=seed,source=/s,target=/c ls -ln /c/sub > /list && cat /c/sub/f > /seen && readlink /c/ln > /link && echo more >> /c/sub/f && echo ${v}`,
        '',
      ].join('\n');
    await w.build(df('one'), { tags: ['seeded'] });
    const img = await w.image('seeded');
    expect(await readFile(join(img.rootfs, 'seen'), 'utf8')).toBe('one\n');
    expect(await readFile(join(img.rootfs, 'link'), 'utf8')).toBe('sub/f\n');
    expect(await readFile(join(img.rootfs, 'list'), 'utf8')).toMatch(/ 5 +6 /);
    // the cache was written, the stage was not
    expect(await readFile(join(w.root, 'cache/mounts/seeded/s/sub/f'), 'utf8')).toBe('one\nmore\n');
    // not empty any more: a changed stage does not reseed it (BuildKit: the seed is used only for a new cache)
    await w.build(df('two'), { tags: ['seeded2'] });
    expect(await readFile(join((await w.image('seeded2')).rootfs, 'seen'), 'utf8')).toBe('one\nmore\n');
    // a source that leaves the stage root stays inside it; a missing one fails naming it
    await expect(w.build('FROM localhost/busybox AS s\nFROM localhost/busybox\nRUN --mount=type=cache,id=bad,from=s,source=/nope,target=/c true\n')).rejects.toThrow(/source \/nope does not exist/);
    await w.build('FROM localhost/busybox AS s\nRUN mkdir /etcx && echo in-stage > /etcx/passwd\nFROM localhost/busybox\nRUN --mount=type=cache,id=up,from=s,source=../../../../etcx,target=/c cat /c/passwd > /seen\n', { tags: ['seedup'] });
    expect(await readFile(join((await w.image('seedup')).rootfs, 'seen'), 'utf8')).toBe('in-stage\n');
    expect((await readdir(join(w.root, 'cache/mounts'))).filter((n) => !n.startsWith('.')).sort()).toEqual(['bad', 'seeded', 'up']);
  });

  it('--platform linux/arm64: scratch/COPY builds record the platform; a RUN for it with no emulator registered fails before running, naming the step and what to install', async () => {
    const arm = { os: 'linux', architecture: 'arm64', variant: 'v8' };
    // skiff's view of binfmt_misc (SKIFF_BINFMT_DIR): nothing registered, or Debian's qemu-aarch64 (the kernel's own
    // registrations, which parallel tests use, are not touched)
    const none = join(w.dir, 'binfmt-none');
    const withArm = join(w.dir, 'binfmt-arm');
    for (const d of [none, withArm]) {
      await mkdir(d, { recursive: true });
      await writeFile(join(d, 'status'), 'enabled\n');
    }
    await writeFile(join(withArm, 'qemu-aarch64'), 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n');
    const saved = process.env.SKIFF_BINFMT_DIR;
    try {
      process.env.SKIFF_BINFMT_DIR = none;
      await w.files({ 'p.txt': 'p\n' });
      await writeFile(join(w.ctx, 'foreign'), aarch64Elf(), { mode: 0o755 });
      const r = await w.build('FROM scratch\nARG TARGETPLATFORM\nCOPY p.txt /p\nLABEL tp=$TARGETPLATFORM\n', { tags: ['armcopy'], platform: arm });
      const img = await w.image('armcopy');
      expect(img.config).toMatchObject({ os: 'linux', architecture: 'arm64', variant: 'v8' });
      expect(img.config.config?.Labels?.tp).toBe('linux/arm64/v8');
      expect(r.stats.layers).toBe(1);
      // a RUN for arm64 with no emulator: one line naming the step, the platform and what to do, before any step
      const log0 = w.log.length;
      const err = (await w.build('FROM scratch\nCOPY foreign /bin/sh\nRUN echo hi\n', { platform: arm }).then(() => undefined, (e: unknown) => e)) as Error & { hint?: string };
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toBe('building at STEP "RUN echo hi" (line 3): no emulator for linux/arm64/v8 is registered in binfmt_misc on this linux/amd64 machine');
      expect(err.hint).toMatch(/^install qemu-user-static and register qemu-aarch64 with the F flag/);
      expect(w.log.slice(log0).join('')).not.toContain('STEP 1/3');
      // a local single-platform base of another platform: used as it is, with podman's warning — its RUN runs natively
      const log1 = w.log.length;
      await w.build('FROM localhost/busybox\nRUN true\n', { tags: ['armbase'], platform: arm });
      expect(w.log.slice(log1).join('')).toContain('WARN: image platform (linux/amd64) does not match the expected platform (linux/arm64/v8)');
      expect((await w.image('armbase')).config.architecture).toBe('amd64');
      // the CLI: exit 125 (a build error, as buildah), the one-line error on stderr
      const cli = spawnSync(process.execPath, [BUILD_TOOL, '--root', w.root, 'build', '--platform', 'linux/arm64', '-f', '-', w.ctx], {
        input: 'FROM scratch\nCOPY foreign /bin/sh\nRUN echo hi\n',
        encoding: 'utf8',
        env: { ...process.env, XDG_RUNTIME_DIR: w.dir },
      });
      expect(cli.status).toBe(125);
      expect(cli.stderr).toMatch(/^Error: building at STEP "RUN echo hi" \(line 3\): no emulator for linux\/arm64 is registered in binfmt_misc on this linux\/amd64 machine; install qemu-user-static[^\n]*\n$/);
      // with an emulator registered the RUN is let through; a binary that happens to run natively (a static x86-64
      // busybox in an image that says arm64) runs
      process.env.SKIFF_BINFMT_DIR = withArm;
      const bb = execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim();
      execFileSync('cp', [bb, join(w.ctx, 'bb')]);
      await w.build('FROM scratch\nCOPY bb /bin/sh\nRUN ["/bin/sh", "-c", "echo ran > /ran"]\n', { tags: ['armrun'], platform: arm });
      expect(await readFile(join((await w.image('armrun')).rootfs, 'ran'), 'utf8')).toBe('ran\n');
    } finally {
      if (saved === undefined) delete process.env.SKIFF_BINFMT_DIR;
      else process.env.SKIFF_BINFMT_DIR = saved;
    }
  });

  it('--build-arg that no stage declares: buildah\'s exact warning line on stderr (ARGs of skipped stages count as consumed)', async () => {
    await w.files({ 'p.txt': 'p\n' });
    const df = 'ARG G\nFROM scratch AS a\nARG INA\nCOPY p.txt /a\nFROM scratch AS b\nARG INB\nCOPY p.txt /b\n';
    const args = ['--build-arg', 'G=1', '--build-arg', 'INA=1', '--build-arg', 'INB=1', '--build-arg', 'X=1', '--build-arg', 'ZZ=2', '--build-arg', 'HTTP_PROXY=http://127.0.0.1:9'];
    const run = (extra: string[]) =>
      spawnSync(process.execPath, [BUILD_TOOL, '--root', w.root, 'build', '--target', 'a', ...args, ...extra, '-f', '-', w.ctx], { input: df, encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: w.dir } });
    const r = run([]);
    expect(r.status).toBe(0);
    expect(r.stderr.split('\n')).toContain('[Warning] one or more build args were not consumed: [X ZZ]');
    expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    // -q: only the image ID, no warning (as buildah -q)
    const q = run(['-q']);
    expect(q.status).toBe(0);
    expect(q.stderr).not.toContain('not consumed');
  });
});
