import { execFileSync } from 'node:child_process';
import { chmod, chown, link, mkdir, symlink, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLayer } from '../../../shared/layer/apply.ts';
import { readTar } from '../../../shared/layer/tar-read.ts';
import { packTree } from '../../../shared/layer/tar-write.ts';
import { readTreeXattrs, setXattr } from '../../../shared/layer/xattr.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { collect, snapshot } from './helpers.ts';

let base: string;
let cleanup: () => Promise<void>;
let src: string;
const longName = 'n'.repeat(150);
const deep = Array.from({ length: 12 }, (_, i) => `dir-${i}-${'x'.repeat(20)}`).join('/');

async function relXattrs(dir: string): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [p, m] of await readTreeXattrs(dir)) {
    if (p === dir) continue;
    out[p.slice(dir.length)] = Object.fromEntries([...m].map(([k, v]) => [k, v.toString('hex')]));
  }
  return out;
}

beforeAll(async () => {
  ({ dir: base, cleanup } = await scratchDir('skiff-tar-'));
  src = join(base, 'src');
  await mkdir(src, { mode: 0o700 });
  const t = new Date(1_650_000_000_000);
  await mkdir(join(src, 'etc'), { mode: 0o750 });
  await writeFile(join(src, 'etc/shadow'), 'root:*:', { mode: 0o600 });
  await writeFile(join(src, 'etc/zero-mode'), 'z');
  await chmod(join(src, 'etc/zero-mode'), 0);
  await mkdir(join(src, 'tmp'));
  await chmod(join(src, 'tmp'), 0o1777);
  await mkdir(join(src, 'bin'));
  await writeFile(join(src, 'bin/su'), '#!/bin/sh\n');
  await chmod(join(src, 'bin/su'), 0o4755);
  await writeFile(join(src, 'bin/empty'), '');
  await writeFile(join(src, 'bin/hl1'), 'shared inode');
  await link(join(src, 'bin/hl1'), join(src, 'bin/hl2'));
  await link(join(src, 'bin/hl1'), join(src, 'etc/hl3'));
  await symlink('../etc/shadow', join(src, 'bin/rel'));
  await symlink('/etc/hostname', join(src, 'bin/abs'));
  await symlink('/nowhere/' + 'l'.repeat(120), join(src, 'bin/long-target'));
  await writeFile(join(src, longName), 'long name');
  await mkdir(join(src, deep), { recursive: true });
  await writeFile(join(src, deep, 'leaf with spaces ü.txt'), 'deep');
  await setXattr(join(src, 'bin/hl1'), 'user.text', Buffer.from('hello'));
  await setXattr(join(src, 'etc/shadow'), 'user.bin', Buffer.from([0xff, 0x00, 0xfe]));
  await setXattr(join(src, 'etc'), 'trusted.dirattr', Buffer.from('d'));
  execFileSync('mknod', [join(src, 'fifo'), 'p']);
  if (isRoot) {
    await chown(join(src, 'etc/shadow'), 1234, 5678);
    execFileSync('mknod', [join(src, 'etc/null'), 'c', '1', '3']);
    await setXattr(join(src, 'bin/su'), 'security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex'));
  }
  // whole-second mtimes everywhere (tar keeps seconds), deepest first
  execFileSync('find', [src, '-mindepth', '1', '-depth', '-exec', 'touch', '-h', '-d', `@${t.getTime() / 1000}`, '{}', '+']);
});
afterAll(() => cleanup());

describe('tar write and read', () => {
  it('round-trips a tree: modes, owners, symlinks, hardlinks, xattrs, special files, long names', async () => {
    const dst = join(base, 'dst');
    await mkdir(dst, { mode: 0o700 });
    const res = await applyLayer(dst, packTree(src));
    expect(res.hardlinks).toBe(2);
    const a = (await snapshot(src)).split('\n').slice(1);
    const b = (await snapshot(dst)).split('\n').slice(1);
    expect(b).toEqual(a);
    expect(await relXattrs(dst)).toEqual(await relXattrs(src));
    expect(Object.keys(await relXattrs(src)).length).toBeGreaterThanOrEqual(3);
  });

  it('writes deterministic archives: sorted entries, fixed mtime, no atime noise', async () => {
    const mtime = new Date(0);
    const one = await collect(packTree(src, { mtime }));
    await readFile(join(src, 'etc/shadow')); // touch atime
    const two = await collect(packTree(src, { mtime }));
    expect(one.equals(two)).toBe(true);
    const names: string[] = [];
    for await (const { header } of readTar(Readable.from([one]))) {
      names.push(header.name);
      expect(header.mtime.getTime()).toBe(0);
    }
    expect(names.indexOf('bin/')).toBeLessThan(names.indexOf('bin/abs'));
    expect(names.indexOf('bin/abs')).toBeLessThan(names.indexOf('bin/empty'));
    const linkEntries = names.filter((n) => /hl[123]$/.test(n));
    expect(linkEntries).toEqual(['bin/hl1', 'bin/hl2', 'etc/hl3']);
  });

  it('GNU tar reads our output (tar -tvf) and extracts the same tree', async () => {
    const file = join(base, 'out.tar');
    await writeFile(file, await collect(packTree(src)));
    const listing = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' });
    expect(listing).toContain(longName);
    expect(listing).toMatch(/bin\/rel -> \.\.\/etc\/shadow/);
    expect(listing).toMatch(/bin\/hl2 link to bin\/hl1/);
    expect(listing).toMatch(/-rwsr-xr-x/);
    expect(listing).toContain('leaf with spaces ü.txt');
    const gx = join(base, 'gnu-x');
    await mkdir(gx, { mode: 0o700 });
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--same-owner', '-xpf', file, '-C', gx]);
    const a = (await snapshot(src)).split('\n').slice(1).filter((l) => !/^(etc|tmp|bin|dir-0)[^/]* /.test(l));
    const b = (await snapshot(gx)).split('\n').slice(1).filter((l) => !/^(etc|tmp|bin|dir-0)[^/]* /.test(l));
    expect(b.filter((l) => !l.startsWith('dir-'))).toEqual(a.filter((l) => !l.startsWith('dir-')));
  });

  it('reads GNU-format (long name/link records) and pax archives written by GNU tar', async () => {
    for (const format of ['gnu', 'pax']) {
      const file = join(base, `${format}.tar`);
      execFileSync('tar', ['--format', format, '--xattrs', '--xattrs-include=user.*', '-cf', file, '-C', src, '.']);
      const dst = join(base, `from-${format}`);
      await mkdir(dst, { mode: 0o700 });
      await applyLayer(dst, Readable.from([await readFile(file)]));
      expect(await readFile(join(dst, longName), 'utf8')).toBe('long name');
      expect(await readFile(join(dst, deep, 'leaf with spaces ü.txt'), 'utf8')).toBe('deep');
      const a = (await snapshot(src)).split('\n').slice(1);
      const b = (await snapshot(dst)).split('\n').slice(1);
      // GNU tar writes directory mtimes, owners and links as we do
      expect(b.map((l) => l.split(' ').slice(0, 4).join(' '))).toEqual(a.map((l) => l.split(' ').slice(0, 4).join(' ')));
      if (format === 'pax') expect((await relXattrs(dst))['/bin/hl1']).toEqual({ 'user.text': Buffer.from('hello').toString('hex') });
    }
  });
});
