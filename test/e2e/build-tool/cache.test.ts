import { chmod, chown, lstat, readdir, rename, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { makeWorld, type World } from './harness.ts';
import { acquireLock } from '../../../shared/store/lock.ts';

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

  it('racy file: a same-size rewrite right after the build, mtime put back, still rebuilds', async () => {
    await w.files({ foo1: 'r1', foo2: 'b' });
    const r1 = await w.build(copyDf(), { tags: ['racy'] });
    expect(r1.stats.copies).toBe(1);
    // foo1 was read within its timestamps' granularity of its last change: its stat alone cannot vouch for it
    const before = await stat(join(w.ctx, 'foo1'));
    await writeFile(join(w.ctx, 'foo1'), 'r2');
    await utimes(join(w.ctx, 'foo1'), before.atime, before.mtime);
    const r2 = await w.build(copyDf(), { tags: ['racy'] });
    expect(r2.stats.copies).toBe(1);
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(join((await w.image('racy')).rootfs, 'dst/foo1'), 'utf8')).toBe('r2');
  });

  it('a fully cached rebuild of the image its name holds writes nothing; a new name is still given', async () => {
    await w.files({ foo1: 'n1', foo2: 'n2' });
    const r1 = await w.build(copyDf(), { tags: ['same'] });
    const index = join(w.root, 'images/index.json');
    const i1 = await lstat(index, { bigint: true });
    const r2 = await w.build(copyDf(), { tags: ['same'] });
    expect(r2.id).toBe(r1.id);
    expect(r2.descriptor.digest).toBe(r1.descriptor.digest);
    expect(r2.stats).toMatchObject({ copies: 0, runs: 0, layers: 0 });
    const i2 = await lstat(index, { bigint: true });
    expect([i2.ino, i2.mtimeNs]).toEqual([i1.ino, i1.mtimeNs]); // index.json not rewritten
    expect(await readdir(join(w.root, 'leases'))).toEqual([]);
    // it takes no lock: it finishes while a gc holds the store's gc lock exclusively
    const gcLock = await acquireLock(join(w.root, 'locks/gc.lock'));
    try {
      const held = await Promise.race([w.build(copyDf(), { tags: ['same'] }), new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 20_000))]);
      expect(held).not.toBe('blocked');
    } finally {
      await gcLock.release();
    }
    // the same steps under another name: every step a hit, the name is written
    const r3 = await w.build(copyDf(), { tags: ['same', 'other'] });
    expect(r3.stats.copies).toBe(0);
    expect((await w.image('other')).config).toEqual((await w.image('same')).config);
    const i3 = await lstat(index, { bigint: true });
    expect(i3.mtimeNs).not.toBe(i1.mtimeNs);
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

  it('an owner change of a context file busts it, though its bytes, size and mtime are the same', async () => {
    await w.files({ foo1: 'o1', foo2: 'o2' });
    await w.build(copyDf());
    expect((await w.build(copyDf())).stats.copies).toBe(0);
    const before = await stat(join(w.ctx, 'foo2'));
    await chown(join(w.ctx, 'foo2'), 4242, 4243);
    await utimes(join(w.ctx, 'foo2'), before.atime, before.mtime);
    const r = await w.build(copyDf());
    expect(r.stats.copies).toBe(1);
    expect(r.stats.filesHashed).toBe(1); // only the file whose stat changed was read again
    expect((await w.build(copyDf())).stats.copies).toBe(0);
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
