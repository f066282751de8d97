import { lstat, mkdir, readFile, readlink, stat, writeFile, chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { applyLayer } from '../../../shared/layer/apply.ts';
import { readTar } from '../../../shared/layer/tar-read.ts';
import { packTree } from '../../../shared/layer/tar-write.ts';
import { getXattrs, setXattr } from '../../../shared/layer/xattr.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { applyEntries, makeTar, withRootAndVictim } from './helpers.ts';

let base: string;
let R: string;
let victim: string;
withRootAndVictim('skiff-apply-', (s) => ({ base, R, victim } = s));

const exists = async (p: string): Promise<boolean> => !!(await lstat(p).catch(() => undefined));

describe('confinement', () => {
  it('LA-01 dot-dot and absolute names are confined under R (chroot policy)', async () => {
    await applyEntries(R, [
      { name: '../victim/dotdot', body: 'a' },
      { name: '/../victim/slash-dotdot', body: 'b' },
      { name: '/abs/file', body: 'c' },
      { name: '..', type: 'directory', mode: 0o777 },
      { name: '/..', type: 'directory' },
      { name: '/file', body: 'd' },
      { name: 'x/../../../../y', body: 'e' },
    ]);
    expect(await readFile(join(R, 'victim/dotdot'), 'utf8')).toBe('a');
    expect(await readFile(join(R, 'victim/slash-dotdot'), 'utf8')).toBe('b');
    expect(await readFile(join(R, 'abs/file'), 'utf8')).toBe('c');
    expect(await readFile(join(R, 'file'), 'utf8')).toBe('d');
    expect(await readFile(join(R, 'y'), 'utf8')).toBe('e');
    expect(await exists(join(base, 'file'))).toBe(false);
    expect(await exists(join(base, 'y'))).toBe(false);
    expect((await stat(R)).mode & 0o777).toBe(0o700); // root metadata is never taken from a layer
  });

  it('LA-02 symlink-then-write lands inside R (relative and absolute, one layer)', async () => {
    await applyEntries(R, [
      { name: 'loophole', type: 'symlink', linkname: '../victim' },
      { name: 'loophole/file', body: 'x' },
      { name: 'abshole', type: 'symlink', linkname: victim },
      { name: 'abshole/file', body: 'y' },
    ]);
    expect(await readFile(join(R, 'victim/file'), 'utf8')).toBe('x');
    expect(await readFile(join(R, victim, 'file'), 'utf8')).toBe('y');
    expect(await readlink(join(R, 'loophole'))).toBe('../victim');
  });

  it('LA-02 symlink-then-write across two layers', async () => {
    await applyEntries(R, [
      { name: 'loophole', type: 'symlink', linkname: '../victim' },
      { name: 'abshole', type: 'symlink', linkname: victim },
      { name: 'dots', type: 'symlink', linkname: '../../../../../../' },
    ]);
    await applyEntries(R, [
      { name: 'loophole/file', body: 'x' },
      { name: 'loophole/hello', body: 'overwrite?' },
      { name: 'abshole/hello', body: 'overwrite?' },
      { name: 'dots/escaped', body: 'z' },
    ]);
    expect(await readFile(join(R, 'victim/file'), 'utf8')).toBe('x');
    expect(await readFile(join(R, victim, 'hello'), 'utf8')).toBe('overwrite?');
    expect(await readFile(join(R, 'escaped'), 'utf8')).toBe('z');
    expect(await exists(join(base, 'escaped'))).toBe(false);
  });

  it('LA-03 hardlink escapes are rejected; in-root links to lower-layer files work', async () => {
    const hello = join(victim, 'hello');
    for (const entries of [
      [{ name: 'h', type: 'link' as const, linkname: '../victim/hello' }],
      [{ name: 'h', type: 'link' as const, linkname: '/../victim/hello' }],
      [{ name: 'h', type: 'link' as const, linkname: hello }],
      [
        { name: 'loophole-victim', type: 'symlink' as const, linkname: '../victim' },
        { name: 'h', type: 'link' as const, linkname: 'loophole-victim/hello' },
      ],
      [
        { name: 'abs-victim', type: 'symlink' as const, linkname: victim },
        { name: 'h', type: 'link' as const, linkname: 'abs-victim/hello' },
      ],
    ]) {
      await expect(applyEntries(R, entries)).rejects.toMatchObject({ code: 'EINVALID' });
    }
    await expect(applyEntries(R, [{ name: 'd', type: 'directory' }, { name: 'h', type: 'link', linkname: 'd' }])).rejects.toMatchObject({ code: 'EUNSAFE' });
    await expect(applyEntries(R, [{ name: 'h', type: 'link', linkname: '/' }])).rejects.toMatchObject({ code: 'EUNSAFE' });
    expect((await stat(hello)).nlink).toBe(1);
    // a link to a file of a lower layer works
    await applyEntries(R, [{ name: 'lower/f', body: 'lower' }]);
    await applyEntries(R, [{ name: 'upper/g', type: 'link', linkname: 'lower/f' }]);
    expect((await stat(join(R, 'upper/g'))).ino).toBe((await stat(join(R, 'lower/f'))).ino);
    // a link to a symlink links the symlink itself, never its target
    await applyEntries(R, [
      { name: 's', type: 'symlink', linkname: hello },
      { name: 's2', type: 'link', linkname: 's' },
    ]);
    expect((await lstat(join(R, 's2'))).isSymbolicLink()).toBe(true);
  });

  it('LA-05 root type change is refused and nothing reaches the symlink target', async () => {
    const hostdir = join(base, 'hostdir');
    await mkdir(hostdir);
    for (const name of ['.', './', '/']) {
      await expect(applyEntries(R, [{ name, type: 'symlink', linkname: hostdir }, { name: 'f', body: 'x' }])).rejects.toThrow(
        /refusing to change type of root directory/,
      );
    }
    await expect(applyEntries(R, [{ name: '.', body: 'x' }])).rejects.toMatchObject({ code: 'EUNSAFE' });
    await applyEntries(R, [{ name: 'later', body: 'y' }]);
    expect((await lstat(R)).isDirectory()).toBe(true);
    expect(await readdir(hostdir)).toEqual([]);
  });

  it('LA-06 whiteouts through symlinked parents resolve inside R', async () => {
    // the "host /etc" is a scratch dir, so a regression can never delete the machine's real /etc/passwd
    const hostEtc = join(base, 'host-etc');
    await mkdir(hostEtc);
    await writeFile(join(hostEtc, 'passwd'), 'host');
    await applyEntries(R, [
      { name: `${hostEtc}/passwd`, body: 'in R' },
      { name: 'victim/hello', body: 'in R too' },
      { name: 'etc2', type: 'symlink', linkname: hostEtc },
      { name: 'lib2', type: 'symlink', linkname: '../../victim' },
    ]);
    await applyEntries(R, [
      { name: 'etc2/.wh.passwd' },
      { name: 'lib2/.wh.hello' },
      { name: 'lib2/.wh..wh..opq' },
    ]);
    expect(await exists(join(R, hostEtc, 'passwd'))).toBe(false);
    expect(await exists(join(R, 'victim/hello'))).toBe(false);
    expect(await readFile(join(hostEtc, 'passwd'), 'utf8')).toBe('host');
  });

  it('LA-07 whiteout name edge cases: empty and dot names rejected, etc/.wh.. rejected (not limited to etc)', async () => {
    await applyEntries(R, [{ name: 'etc/keep', body: 'k' }, { name: 'sub/keep', body: 'k' }]);
    for (const name of ['.wh.', 'sub/.wh.', '.wh..', '.wh...', 'etc/.wh..', 'etc/.wh...']) {
      await expect(applyEntries(R, [{ name }]), name).rejects.toMatchObject({ code: 'EINVALID' });
    }
    expect(await exists(join(R, 'etc/keep'))).toBe(true);
    expect(await exists(join(R, 'sub/keep'))).toBe(true);
    expect((await lstat(R)).isDirectory()).toBe(true);
    // whiteouts are recognised by name whatever the entry type
    await applyEntries(R, [{ name: 'etc/.wh..wh..opq', type: 'directory' }, { name: '.wh.sub', type: 'directory' }]);
    expect(await readdir(join(R, 'etc'))).toEqual([]);
    expect(await exists(join(R, 'sub'))).toBe(false);
    expect(await exists(join(R, 'etc/.wh..wh..opq'))).toBe(false);
  });

  it('LA-11 metadata operations never follow symlinks', async () => {
    const vfile = join(victim, 'hello');
    await setXattr(vfile, 'user.mark', Buffer.from('orig'));
    const before = await stat(vfile);
    await applyEntries(R, [
      { name: 'x', type: 'symlink', linkname: vfile },
      { name: 'x', mode: 0o6777, uid: 0, body: 'new', pax: { mtime: '12345.5', 'SCHILY.xattr.user.mark': 'evil' } },
      { name: 'y', type: 'symlink', linkname: vfile, mode: 0o4777 },
      { name: 'z', type: 'symlink', linkname: victim },
      { name: 'z', type: 'directory', mode: 0o6777, pax: { 'SCHILY.xattr.user.mark': 'evil' } },
      { name: 'w', type: 'directory', mode: 0o777 },
      { name: 'w', type: 'symlink', linkname: victim },
    ]);
    const after = await stat(vfile);
    expect(after.mode).toBe(before.mode);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.uid).toBe(before.uid);
    expect((await getXattrs(vfile)).get('user.mark')?.toString()).toBe('orig');
    expect((await stat(victim)).mode & 0o7777).toBe(0o755 & ~process.umask());
    const x = await lstat(join(R, 'x'));
    expect(x.isFile()).toBe(true);
    expect(x.mtimeMs).toBe(12345500); // pax sub-second mtime kept
    expect((await getXattrs(join(R, 'x'))).get('user.mark')?.toString()).toBe('evil');
    expect((await lstat(join(R, 'z'))).isDirectory()).toBe(true);
    expect((await lstat(join(R, 'w'))).isSymbolicLink()).toBe(true);
  });

  it('LA-12 type replacement never follows the new symlink out of R; duplicates: last wins', async () => {
    const victimMode = (await stat(victim)).mode;
    await applyEntries(R, [
      { name: 'd/', type: 'directory', mode: 0o777 },
      { name: 'd/old', body: 'old' },
      { name: 'd', type: 'symlink', linkname: victim },
      { name: 'd/f', body: 'f' },
      { name: 'dup', body: 'first' },
      { name: 'dup', body: 'second' },
      { name: 'e/', type: 'directory' },
      { name: 'e/inner', body: 'i' },
      { name: 'e', body: 'now a file' },
      { name: 'g', body: 'file' },
      { name: 'g/', type: 'directory', mode: 0o750 },
    ]);
    expect(await readlink(join(R, 'd'))).toBe(victim);
    expect(await readFile(join(R, victim, 'f'), 'utf8')).toBe('f');
    expect(await readFile(join(R, 'dup'), 'utf8')).toBe('second');
    expect(await readFile(join(R, 'e'), 'utf8')).toBe('now a file');
    expect((await lstat(join(R, 'g'))).isDirectory()).toBe(true);
    expect((await lstat(join(R, 'g'))).mode & 0o777).toBe(0o750);
    expect((await stat(victim)).mode).toBe(victimMode);
    // a parent that is a file is an error, never a write elsewhere
    await expect(applyEntries(R, [{ name: 'dup/x', body: 'x' }])).rejects.toMatchObject({ code: 'EINVALID' });
  });

  it('LA-14 legit absolute symlinks are followed inside R and preserved verbatim', async () => {
    await applyEntries(R, [
      { name: 'run/', type: 'directory' },
      { name: 'var/', type: 'directory' },
      { name: 'var/run', type: 'symlink', linkname: '/run' },
    ]);
    await applyEntries(R, [
      { name: 'var/run/act/deep/HEAD', body: 'ref: main' },
      { name: 'var/run/act/deep/HEAD.link', type: 'link', linkname: 'var/run/act/deep/HEAD' },
    ]);
    expect(await readFile(join(R, 'run/act/deep/HEAD'), 'utf8')).toBe('ref: main');
    expect((await stat(join(R, 'run/act/deep/HEAD.link'))).nlink).toBe(2);
    expect(await readlink(join(R, 'var/run'))).toBe('/run');
    expect(await exists('/run/act/deep/HEAD')).toBe(false);
    // re-export keeps the symlink as it is
    const entries: [string, string | undefined][] = [];
    for await (const { header } of readTar(packTree(R))) entries.push([header.name, header.linkname]);
    expect(entries).toContainEqual(['var/run', '/run']);
    expect(entries).toContainEqual(['run/act/deep/HEAD.link', 'run/act/deep/HEAD']);
  });

  it('LA-15 depth, name length and entry count limits fail cleanly', async () => {
    const deep = Array.from({ length: 100_000 }, () => 'a').join('/');
    await expect(applyEntries(R, [{ name: deep, body: 'x' }])).rejects.toMatchObject({ code: 'ELIMIT' });
    await expect(applyEntries(R, [{ name: 'x'.repeat(4096), body: 'x' }])).rejects.toMatchObject({ code: 'ELIMIT' });
    await expect(applyEntries(R, [{ name: 'a/'.repeat(20) + 'f', body: 'x' }], { limits: { maxDepth: 10 } })).rejects.toMatchObject({ code: 'ELIMIT' });
    const many = Array.from({ length: 1001 }, (_, i) => ({ name: `f${i}` }));
    await expect(applyEntries(R, many, { limits: { maxEntries: 1000 } })).rejects.toThrow(/more than 1000 entries/);
    // a symlink loop is an error, not a hang
    await expect(applyEntries(R, [{ name: 'l1', type: 'symlink', linkname: 'l2' }, { name: 'l2', type: 'symlink', linkname: 'l1' }, { name: 'l1/f' }])).rejects.toMatchObject({
      code: 'EUNSAFE',
    });
  });
});

describe('whiteouts', () => {
  it('LA-09 opaque whiteout applies first regardless of entry order', async () => {
    for (const order of ['opq-first', 'opq-last', 'with-dir-entry'] as const) {
      const r = join(base, `r-${order}`);
      await mkdir(r, { mode: 0o700 });
      await applyEntries(r, [
        { name: 'a/', type: 'directory', mode: 0o750 },
        { name: 'a/x', body: 'x' },
        { name: 'a/y/z', body: 'z' },
        { name: 'keep', body: 'k' },
      ]);
      const opq = { name: 'a/.wh..wh..opq' };
      const b = { name: 'a/b', body: 'b' };
      const c = { name: 'a/y/c', body: 'c' };
      const upper = order === 'opq-first' ? [opq, b, c] : order === 'opq-last' ? [b, c, opq] : [{ name: 'a/', type: 'directory' as const, mode: 0o711 }, b, opq, c];
      await applyEntries(r, upper);
      expect((await readdir(join(r, 'a'))).sort(), order).toEqual(['b', 'y']);
      expect(await readdir(join(r, 'a/y'))).toEqual(['c']);
      expect(await readFile(join(r, 'keep'), 'utf8')).toBe('k');
      expect((await stat(join(r, 'a'))).mode & 0o777).toBe(order === 'with-dir-entry' ? 0o711 : 0o750);
    }
  });

  it('LA-10 a whiteout never hides a file of its own layer', async () => {
    await applyEntries(R, [{ name: 'f', body: 'lower' }, { name: 'g', body: 'lower' }, { name: 'gone', body: 'lower' }]);
    await applyEntries(R, [{ name: 'f', body: 'upper' }, { name: '.wh.f' }, { name: '.wh.g' }, { name: 'g', body: 'upper' }, { name: '.wh.gone' }]);
    expect(await readFile(join(R, 'f'), 'utf8')).toBe('upper');
    expect(await readFile(join(R, 'g'), 'utf8')).toBe('upper');
    expect(await exists(join(R, 'gone'))).toBe(false);
  });
});

describe.skipIf(!isRoot)('overlay mode (root)', () => {
  it('LA-10 overlay mode: whiteouts become char 0/0 devices, never over a same-layer file; opaque becomes an xattr', async () => {
    await applyEntries(R, [{ name: 'f', body: 'mine' }, { name: '.wh.f' }, { name: '.wh.g' }, { name: 'd/.wh..wh..opq' }, { name: 'd/x', body: 'x' }], { mode: 'overlay' });
    expect(await readFile(join(R, 'f'), 'utf8')).toBe('mine');
    const g = await lstat(join(R, 'g'));
    expect(g.isCharacterDevice() && g.rdev === 0).toBe(true);
    expect((await getXattrs(join(R, 'd'))).get('trusted.overlay.opaque')?.toString()).toBe('y');
    // a layer cannot smuggle overlay xattrs of its own
    const warnings: string[] = [];
    await applyEntries(R, [{ name: 'e/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } }], { mode: 'overlay', onWarning: (w) => warnings.push(w) });
    expect((await getXattrs(join(R, 'e'))).size).toBe(0);
    expect(warnings.join()).toMatch(/dropping xattr trusted.overlay.redirect/);
  });
});

describe.skipIf(!isRoot)('special files (root)', () => {
  it('LA-18 devices created only inside a private R; setuid kept only there; policy flag skips devices', async () => {
    const entries = [
      { name: 'dev/null', type: 'character-device' as const, devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop9', type: 'block-device' as const, devmajor: 7, devminor: 9, mode: 0o660 },
      { name: 'fifo', type: 'fifo' as const, mode: 0o600 },
      { name: 'bin/su', mode: 0o4755, body: '#!' },
      { name: 'tmpish/', type: 'directory' as const, mode: 0o777 },
    ];
    const r = await applyEntries(R, entries);
    const nul = await lstat(join(R, 'dev/null'));
    expect(nul.isCharacterDevice()).toBe(true);
    expect(nul.rdev).toBe((1 << 8) | 3);
    expect((await lstat(join(R, 'dev/loop9'))).isBlockDevice()).toBe(true);
    expect((await lstat(join(R, 'fifo'))).isFIFO()).toBe(true);
    expect((await stat(join(R, 'bin/su'))).mode & 0o7777).toBe(0o4755);
    expect((await stat(join(R, 'tmpish'))).mode & 0o7777).toBe(0o777);
    expect(r.devices).toBe(2);

    // policy flag: devices refused, with a warning
    const R2 = join(base, 'R2');
    await mkdir(R2, { mode: 0o700 });
    const warnings: string[] = [];
    const r2 = await applyEntries(R2, entries, { devices: 'skip', onWarning: (m) => warnings.push(m) });
    expect(await exists(join(R2, 'dev/null'))).toBe(false);
    expect(r2.skipped).toBe(2);
    expect(warnings.join('\n')).toMatch(/skipping device dev\/null: devices are refused by policy/);

    // an R other users can reach: no devices, setuid stripped
    const open = join(base, 'open');
    await mkdir(open);
    await chmod(base, 0o755);
    await chmod(open, 0o755);
    try {
      const w3: string[] = [];
      await applyEntries(open, entries, { onWarning: (m) => w3.push(m) });
      expect(await exists(join(open, 'dev/null'))).toBe(false);
      expect((await stat(join(open, 'bin/su'))).mode & 0o7777).toBe(0o755);
      expect(w3.join('\n')).toMatch(/reachable by other users/);
    } finally {
      await chmod(base, 0o700);
    }
  });
});

describe.skipIf(isRoot)('special files (not root)', () => {
  it('LA-18 devices are skipped with a warning when not root', async () => {
    const warnings: string[] = [];
    await applyEntries(R, [{ name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 }], { onWarning: (m) => warnings.push(m) });
    expect(await exists(join(R, 'dev/null'))).toBe(false);
    expect(warnings.join()).toMatch(/not running as root/);
  });
});

describe('apply basics', () => {
  it('reports counts and streams bodies', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await applyLayer(R, Readable.from([await makeTar([{ name: 'a/b', body: big }, { name: 'l', type: 'symlink', linkname: 'a/b' }, { name: 'd/', type: 'directory' }])]));
    expect(res).toMatchObject({ entries: 3, files: 1, symlinks: 1, directories: 1, bytes: big.length });
    expect((await readFile(join(R, 'a/b'))).equals(big)).toBe(true);
    await writeFile(join(base, 'not-a-tar'), 'hello world this is not a tar archive'.repeat(20));
    await expect(applyLayer(R, Readable.from([Buffer.from('x'.repeat(1024))]))).rejects.toMatchObject({ code: 'EINVALID' });
  });
});

describe('file modes', () => {
  it('every permission bit of a file is kept whatever the umask masks, setuid after chown; no probe file is left', async () => {
    await chmod(base, 0o700); // a private root: setuid/setgid bits are kept
    const modes = [0o644, 0o666, 0o777, 0o000, 0o600, 0o4755, 0o2711, 0o1777];
    const old = process.umask(0o077);
    try {
      await applyEntries(R, modes.map((m, i) => ({ name: `f${i}`, mode: m, body: 'x', ...(isRoot && i % 2 === 0 && { uid: 1234, gid: 4321 }) })));
    } finally {
      process.umask(old);
    }
    for (const [i, m] of modes.entries()) {
      const st = await lstat(join(R, `f${i}`));
      expect((st.mode & 0o7777).toString(8), `f${i}`).toBe(m.toString(8));
      if (isRoot && i % 2 === 0) expect([st.uid, st.gid]).toEqual([1234, 4321]);
    }
    expect((await readdir(R)).filter((n) => n.includes('probe'))).toEqual([]);
  });
});
