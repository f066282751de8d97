import { chmod, rename, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { makeWorld, type World } from './harness.ts';

describe.skipIf(!isRoot || !hasBusybox)('build cache correctness (BU-18)', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(async () => w?.cleanup());

  const copyDf = (flags = '') => `FROM localhost/busybox\nCOPY ${flags} foo* /dst/\n`;

  it('touch keeps the key; a content change busts it; the key never holds mtimes', async () => {
    await w.files({ foo1: 'a', foo2: 'b', unrelated: 'x' });
    const r1 = await w.build(copyDf());
    expect(r1.stats.copies).toBe(1);
    await utimes(join(w.ctx, 'foo1'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const r2 = await w.build(copyDf());
    expect(r2.stats.copies).toBe(0);
    expect(r2.stats.filesHashed).toBe(1); // the touched file was re-hashed, nothing else
    await writeFile(join(w.ctx, 'foo1'), 'changed');
    const r3 = await w.build(copyDf());
    expect(r3.stats.copies).toBe(1);
  });

  it('COPY foo* ignores unrelated files; rename busts it', async () => {
    await w.build(copyDf());
    await writeFile(join(w.ctx, 'unrelated'), 'y');
    expect((await w.build(copyDf())).stats.copies).toBe(0);
    await rename(join(w.ctx, 'foo2'), join(w.ctx, 'foo3'));
    expect((await w.build(copyDf())).stats.copies).toBe(1);
  });

  it('--chown and mode changes bust it', async () => {
    await w.build(copyDf());
    expect((await w.build(copyDf('--chown=65534:65534'))).stats.copies).toBe(1);
    await chmod(join(w.ctx, 'foo1'), 0o600);
    expect((await w.build(copyDf())).stats.copies).toBe(1);
    const img = await w.build(copyDf('--chown=nobody'), { tags: ['chowned'] });
    expect(img.stats.copies).toBe(1);
  });

  it('a heredoc body change busts it', async () => {
    const df = (body: string) => `FROM localhost/busybox\nRUN <<EOF\necho ${body} > /h\nEOF\n`;
    expect((await w.build(df('one'))).stats.runs).toBe(1);
    expect((await w.build(df('one'))).stats.runs).toBe(0);
    expect((await w.build(df('two'))).stats.runs).toBe(1);
  });

  it('a changed symlink target busts it (COPY and RUN --mount=type=bind)', async () => {
    await w.files({ 'sub/a': '1', 'sub/b': '2' });
    await symlink('a', join(w.ctx, 'sub/link'));
    const df = 'FROM localhost/busybox\nCOPY sub /sub\nRUN --mount=type=bind,source=sub,target=/m cat /m/link > /seen\n';
    const r1 = await w.build(df, { tags: ['sym'] });
    expect(r1.stats.runs).toBe(1);
    expect((await w.build(df)).stats).toMatchObject({ runs: 0, copies: 0 });
    await unlink(join(w.ctx, 'sub/link'));
    await symlink('b', join(w.ctx, 'sub/link'));
    const r3 = await w.build(df, { tags: ['sym'] });
    expect(r3.stats).toMatchObject({ runs: 1, copies: 1 });
    const img = await w.image('sym');
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(join(img.rootfs, 'seen'), 'utf8')).toBe('2');
  });

  it('--no-cache rebuilds; ENV upstream busts every later step; SOURCE_DATE_EPOCH gives the same digest', async () => {
    await w.files({ f: 'x' });
    const df = (v: string) => `FROM localhost/busybox\nENV V=${v}\nRUN echo $V > /v\nCOPY f /f\n`;
    await w.build(df('1'));
    expect((await w.build(df('1'), { noCache: true })).stats).toMatchObject({ runs: 1, copies: 1 });
    expect((await w.build(df('2'))).stats).toMatchObject({ runs: 1, copies: 1 });
    const a = await w.build(df('3'), { timestamp: 1700000000, noCache: true });
    const b = await w.build(df('3'), { timestamp: 1700000000, noCache: true });
    expect(b.descriptor.digest).toBe(a.descriptor.digest);
  });
});
