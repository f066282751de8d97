// Expected-value tests for Dockerfile features buildah 1.28 lacks or gets wrong, so the differential tests cannot
// cover them: heredocs (RUN, several per line, <<-, quoted), COPY --parents, COPY --exclude, symbolic --chmod,
// no-colon expansion forms, WORKDIR made at once (buildah 1.28: lazily), and HEALTHCHECK/ONBUILD/SHELL kept in an OCI config (corpus.test.ts checks the last
// three for one stage; here they survive a FROM of the built image). Values follow BuildKit.
import { lstat, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { makeWorld, type World } from './harness.ts';

const mode = async (p: string) => ((await lstat(p)).mode & 0o7777).toString(8);

describe.skipIf(!isRoot || !hasBusybox)('build: features beyond buildah 1.28 (expected values)', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(async () => w?.cleanup());

  it('RUN heredocs: shebang script, <<- strips tabs, quoted delimiter is literal, two heredocs on one line', async () => {
    const df = [
      'FROM localhost/busybox',
      'ARG WHO=arg',
      'RUN <<EOF',
      '#!/bin/sh -e',
      'echo "script $WHO" > /h1',
      'EOF',
      'RUN <<-EOT cat > /h2',
      '\tindented $WHO',
      '\tEOT',
      "COPY <<'LIT' /h3",
      'literal $WHO',
      'LIT',
      'COPY <<A <<B /multi/',
      'first',
      'A',
      'second',
      'B',
      '',
    ].join('\n');
    await w.build(df, { tags: ['heredoc'] });
    const { rootfs } = await w.image('heredoc');
    expect(await readFile(join(rootfs, 'h1'), 'utf8')).toBe('script arg\n');
    expect(await readFile(join(rootfs, 'h2'), 'utf8')).toBe('indented arg\n');
    expect(await readFile(join(rootfs, 'h3'), 'utf8')).toBe('literal $WHO\n');
    expect(await readFile(join(rootfs, 'multi/A'), 'utf8')).toBe('first\n');
    expect(await readFile(join(rootfs, 'multi/B'), 'utf8')).toBe('second\n');
  });

  it('COPY --parents keeps the source path; --exclude leaves matches out', async () => {
    await w.files({ 'p/a/one.txt': '1', 'p/b/two.txt': '2', 'p/b/skip.log': 'x', 'p/c/three.md': '3' });
    await w.build('FROM localhost/busybox\nCOPY --parents p/*/*.txt /par/\nCOPY --exclude=**/*.log --exclude=c p /ex/\n', { tags: ['parents'] });
    const { rootfs } = await w.image('parents');
    expect(await readFile(join(rootfs, 'par/p/a/one.txt'), 'utf8')).toBe('1');
    expect(await readFile(join(rootfs, 'par/p/b/two.txt'), 'utf8')).toBe('2');
    await expect(lstat(join(rootfs, 'par/p/b/skip.log'))).rejects.toThrow();
    expect((await readdir(join(rootfs, 'ex'))).sort()).toEqual(['a', 'b']);
    expect(await readdir(join(rootfs, 'ex/b'))).toEqual(['two.txt']);
  });

  it('COPY --chmod symbolic (u+x, g-r, a=r, u=rwX) and octal on files and directories', async () => {
    await w.files({ 'm/f.sh': '#!/bin/sh\n', 'm/d/g.txt': 'g' });
    const { chmod } = await import('node:fs/promises');
    await chmod(join(w.ctx, 'm/f.sh'), 0o644);
    await chmod(join(w.ctx, 'm/d/g.txt'), 0o644);
    await chmod(join(w.ctx, 'm/d'), 0o755);
    await w.build(
      'FROM localhost/busybox\nCOPY --chmod=u+x m/f.sh /s1\nCOPY --chmod=g-r,o-r m/f.sh /s2\nCOPY --chmod=a=r m/f.sh /s3\nCOPY --chmod=u=rwX,go= m/d /d4\nCOPY --chmod=0711 m/f.sh /s5\n',
      { tags: ['chmod'] },
    );
    const { rootfs } = await w.image('chmod');
    expect(await mode(join(rootfs, 's1'))).toBe('744');
    expect(await mode(join(rootfs, 's2'))).toBe('600');
    expect(await mode(join(rootfs, 's3'))).toBe('444');
    expect(await mode(join(rootfs, 'd4/g.txt'))).toBe('600');
    expect(await mode(join(rootfs, 's5'))).toBe('711');
  });

  it('no-colon expansion: ${v-w} and ${v+w} tell empty from unset; pattern forms', async () => {
    const df = [
      'FROM localhost/busybox',
      'ARG EMPTY=',
      'ARG UNSET',
      'ENV A=${EMPTY-def}|${UNSET-def}|${EMPTY+alt}|${UNSET+alt}|${EMPTY:-cdef}',
      'ENV F=dir/sub/file.tar.gz',
      'ENV B=${F##*/}|${F%%.*}|${F#dir/}|${F%.gz}|${F/sub/SUB}|${F//i/I}',
      '',
    ].join('\n');
    await w.build(df, { tags: ['nocolon'] });
    const env = (await w.image('nocolon')).config.config?.Env ?? [];
    expect(env).toContain('A=|def|alt||cdef');
    expect(env).toContain('B=file.tar.gz|dir/sub/file|sub/file.tar.gz|dir/sub/file.tar|dir/SUB/file.tar.gz|dIr/sub/fIle.tar.gz');
  });

  it('WORKDIR makes its directory at once, owned by the current USER; a later COPY --chown into it keeps that owner', async () => {
    // buildah 1.28 makes it lazily at the next COPY, owned by that COPY's --chown (a documented difference)
    await w.files({ a: 'a\n' });
    await w.build('FROM localhost/busybox\nUSER nobody\nWORKDIR /w\nUSER root\nWORKDIR /w/y\nCOPY --chown=nobody:0 a .\n', { tags: ['wdlazy'] });
    const { rootfs } = await w.image('wdlazy');
    expect((await lstat(join(rootfs, 'w'))).uid).toBe(65534);
    expect((await lstat(join(rootfs, 'w/y'))).uid).toBe(0);
    expect((await lstat(join(rootfs, 'w/y/a'))).uid).toBe(65534);
  });

  it('HEALTHCHECK, ONBUILD and SHELL stay in the OCI config of a child; SHELL applies to RUN', async () => {
    await w.build('FROM localhost/busybox\nSHELL ["/bin/sh", "-c", "-x"]\nHEALTHCHECK --interval=7s --retries=2 CMD ["true"]\nONBUILD RUN echo trig > /trig\n', { tags: ['meta-parent'] });
    await w.build('FROM localhost/meta-parent\nRUN echo $0 > /shell-was\n', { tags: ['meta-child'] });
    const img = await w.image('meta-child');
    const c = img.config.config!;
    expect(c.Shell).toEqual(['/bin/sh', '-c', '-x']);
    expect(c.Healthcheck).toMatchObject({ Test: ['CMD', 'true'], Interval: 7_000_000_000, Retries: 2 });
    expect(c.OnBuild ?? []).toEqual([]);
    expect(await readFile(join(img.rootfs, 'trig'), 'utf8')).toBe('trig\n');
    expect(await readFile(join(img.rootfs, 'shell-was'), 'utf8')).toBe('/bin/sh\n');
  });
});
