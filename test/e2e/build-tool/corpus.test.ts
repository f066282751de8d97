import { lstat, readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import { addBuildCommand } from '../../../shared/cli/build-command.ts';
import { makeWorld, type World } from './harness.ts';

const fixtures = resolve(import.meta.dirname, '../../fixtures/dockerfiles');

describe.skipIf(!isRoot || !hasBusybox)('build corpus', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(async () => w?.cleanup());

  it('multi-stage: parallel stages, COPY --from name and index, USER/WORKDIR ownership, config fields in OCI', async () => {
    const text = await readFile(join(fixtures, 'multistage.Dockerfile'), 'utf8');
    const r = await w.build(text, { tags: ['multi'], jobs: 2, labels: { cli: 'yes' } });
    const img = await w.image('multi');
    expect(await readFile(join(img.rootfs, 'got/one.txt'), 'utf8')).toBe('one\n');
    expect(await readFile(join(img.rootfs, 'got/two.txt'), 'utf8')).toBe('two\n');
    expect(await readFile(join(img.rootfs, 'work/dir/uid'), 'utf8')).toBe('65534\n');
    expect((await lstat(join(img.rootfs, 'work/dir'))).uid).toBe(65534);
    const c = img.config.config!;
    expect(c.User).toBe('nobody');
    expect(c.Healthcheck?.Test).toEqual(['CMD-SHELL', 'true']);
    expect(c.OnBuild).toEqual(['RUN echo child']);
    expect(c.Shell).toEqual(['/bin/sh', '-ec']);
    expect(c.Labels).toEqual({ a: 'b', cli: 'yes' });
    expect(c.Entrypoint).toEqual(['/bin/sh']);
    expect(img.manifest.mediaType).toBe(MediaType.OciManifest);
    expect(r.names).toEqual(['localhost/multi:latest']);
    // ONBUILD runs in the child, not the grandchild
    const child = await w.build('FROM localhost/multi\nRUN test -f /work/dir/uid\n', { tags: ['child'] });
    expect(child.stats.runs).toBe(2);
    const grand = await w.build('FROM localhost/child\n', { tags: ['grand'] });
    expect(grand.stats.runs).toBe(0);
  });

  it('--format docker, --squash, -o type=local, heredoc COPY, ADD tar extraction', async () => {
    const { execFileSync } = await import('node:child_process');
    await w.files({ 'pkg/a.txt': 'A', 'pkg/sub/b.txt': 'B' });
    execFileSync('tar', ['-C', join(w.ctx, 'pkg'), '-cJf', join(w.ctx, 'pkg.tar.xz'), '.']);
    const out = join(w.dir, 'out-local');
    const df = 'FROM localhost/busybox\nADD pkg.tar.xz /opt/pkg/\nCOPY <<EOF /etc/motd\nhello $HOSTNAME\nEOF\nRUN rm /bin/vi && echo x > /x\n';
    await w.build(df, { tags: ['fmt'], format: 'docker', squash: true, outputs: [{ type: 'local', dest: out }] });
    const img = await w.image('fmt');
    expect(img.manifest.mediaType).toBe(MediaType.DockerManifest);
    expect(img.manifest.layers.length).toBe(2);
    expect(img.config.config?.Healthcheck).toBeUndefined();
    expect(await readFile(join(img.rootfs, 'opt/pkg/sub/b.txt'), 'utf8')).toBe('B');
    await expect(lstat(join(img.rootfs, 'bin/vi'))).rejects.toThrow();
    expect(await readFile(join(out, 'x'), 'utf8')).toBe('x\n');
    expect((await readdir(join(out, 'opt/pkg'))).sort()).toEqual(['a.txt', 'sub']);
  });

  it('the build command: -f, -t, --build-arg, --iidfile, a failing RUN names the step and exit code', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(w.ctx, 'Dockerfile'), 'FROM localhost/busybox\nARG V=def\nRUN echo $V > /v\n');
    const program = new Command('build-tool').option('--root <dir>').exitOverride();
    addBuildCommand(program);
    const iid = join(w.dir, 'iid');
    const saved = process.stdout.write.bind(process.stdout);
    let stdout = '';
    process.stdout.write = ((s: string) => ((stdout += s), true)) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'build-tool', '--root', w.root, 'build', '-q', '-t', 'clibuilt', '--build-arg', 'V=given', '--iidfile', iid, w.ctx], { from: 'node' });
    } finally {
      process.stdout.write = saved;
    }
    const id = (await readFile(iid, 'utf8')).trim();
    expect(stdout.trim()).toBe(id.slice(7));
    expect(await readFile(join((await w.image('clibuilt')).rootfs, 'v'), 'utf8')).toBe('given\n');
    await writeFile(join(w.ctx, 'Dockerfile'), 'FROM localhost/busybox\nRUN echo hi\nRUN exit 3\n');
    await expect(program.parseAsync(['node', 'build-tool', '--root', w.root, 'build', '-q', w.ctx], { from: 'node' })).rejects.toThrow(/RUN exit 3.*line 3.*exit status 3/);
  });
});
