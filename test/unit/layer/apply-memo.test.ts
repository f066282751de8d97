// applyLayer remembers verified directories for the duration of one apply and skips chowns that would
// change nothing. These tests pin down that neither shortcut weakens confinement or changes the result:
// every way a remembered directory can be removed or replaced inside one layer is followed by a write
// through the same name, which must resolve afresh (inside R), never through the stale memo.
import { chmod, chown, lstat, mkdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { applyLayer } from '../../../shared/layer/apply.ts';
import { describe, expect, it } from 'vitest';
import { isRoot } from '../../helpers/tmp.ts';
import { applyEntries, makeTar, withRootAndVictim } from './helpers.ts';

let R: string;
let victim: string;
const victimGuard = withRootAndVictim('skiff-apply-memo-', (s) => ({ R, victim } = s));

const exists = async (p: string): Promise<boolean> => !!(await lstat(p).catch(() => undefined));

describe('directory memo', () => {
  it('LA-12 a remembered directory replaced by a file, then by a symlink, is resolved afresh', async () => {
    await applyEntries(R, [
      { name: 'd/', type: 'directory' },
      { name: 'd/s/', type: 'directory' },
      { name: 'd/s/x', body: 'x' }, // d and d/s are remembered now
      { name: 'd', body: 'a file now' }, // removes the tree
      { name: 'd', type: 'symlink', linkname: victim }, // absolute: re-rooted at R
      { name: 'd/s/y', body: 'y' },
      { name: 'e/t/', type: 'directory' },
      { name: 'e/t/u', body: 'u' },
      { name: 'e', type: 'symlink', linkname: '../../victim' }, // replaces a remembered dir directly
      { name: 'e/t/w', body: 'w' },
    ]);
    expect(await readlink(join(R, 'd'))).toBe(victim);
    expect(await readFile(join(R, victim, 's/y'), 'utf8')).toBe('y');
    expect(await exists(join(R, victim, 's/x'))).toBe(false);
    expect(await readFile(join(R, 'victim/t/w'), 'utf8')).toBe('w');
    expect(await exists(join(victim, 't'))).toBe(false);
    expect(await exists(join(victim, 's'))).toBe(false);
  });

  it('LA-12 a remembered directory replaced by a hardlink is not written into', async () => {
    await expect(
      applyEntries(R, [
        { name: 't', body: 'target' },
        { name: 'd/', type: 'directory' },
        { name: 'd/x', body: 'x' },
        { name: 'd', type: 'link', linkname: 't' },
        { name: 'd/y', body: 'y' },
      ]),
    ).rejects.toMatchObject({ code: 'EINVALID' });
    expect((await lstat(join(R, 'd'))).isFile()).toBe(true);
    expect(await readFile(join(R, 't'), 'utf8')).toBe('target');
  });

  it('LA-06 a lower directory remembered, whited out, then replaced by a symlink resolves inside R', async () => {
    await applyEntries(R, [
      { name: 'e/', type: 'directory' },
      { name: 'e/t', body: 'lower' },
      { name: 'a/', type: 'directory' },
      { name: 'a/low/', type: 'directory' },
      { name: 'a/low/t', body: 'lower' },
    ]);
    await applyEntries(R, [
      { name: 'h1', type: 'link', linkname: 'e/t' }, // resolving the target remembers e
      { name: '.wh.e' }, // e is not this layer's: removed
      { name: 'e', type: 'symlink', linkname: '../victim' },
      { name: 'e/z', body: 'z' },
      { name: 'h2', type: 'link', linkname: 'a/low/t' }, // remembers a and a/low
      { name: 'a/.wh..wh..opq' }, // removes a/low
      { name: 'a/low', type: 'symlink', linkname: '../../../victim' },
      { name: 'a/low/f', body: 'f' },
    ]);
    expect(await readFile(join(R, 'h1'), 'utf8')).toBe('lower');
    expect(await readFile(join(R, 'victim/z'), 'utf8')).toBe('z');
    expect(await readFile(join(R, 'victim/f'), 'utf8')).toBe('f');
    expect(await readlink(join(R, 'a/low'))).toBe('../../../victim');
    expect(await exists(join(victim, 'z'))).toBe(false);
    expect(await exists(join(victim, 'f'))).toBe(false);
  });

  it('LA-12 directory metadata is applied only to paths still directories at the end', async () => {
    await mkdir(join(victim, 'k'), { mode: 0o755 }); // what d/k would reach through the symlink d
    await victimGuard.accept();
    await applyEntries(R, [
      { name: 'd/', type: 'directory', mode: 0o751 },
      { name: 'd/k/', type: 'directory', mode: 0o711 },
      { name: 'd', type: 'symlink', linkname: victim }, // the kernel would follow it in d/k
      { name: 'keep/', type: 'directory', mode: 0o705, mtime: new Date(1_500_000_000_000) },
      { name: 'keep/f', body: 'f' },
    ]);
    expect((await lstat(join(R, 'd'))).isSymbolicLink()).toBe(true);
    const keep = await lstat(join(R, 'keep'));
    expect(keep.mode & 0o7777).toBe(0o705);
    expect(keep.mtimeMs).toBe(1_500_000_000_000);
  });
});

describe.skipIf(!isRoot)('ownership (root)', () => {
  it('chowns exactly when the created entry would not already have the header owner', async () => {
    // a setgid directory of another group: new entries take its group, so 0:0 needs a chown
    await mkdir(join(R, 'sg'));
    await chown(join(R, 'sg'), 0, 4321);
    await chmod(join(R, 'sg'), 0o2755);
    await applyEntries(R, [
      { name: 'plain', body: 'p', uid: 0, gid: 0 },
      { name: 'other', body: 'o', uid: 1234, gid: 5678 },
      { name: 'odir/', type: 'directory', uid: 1234, gid: 5678 },
      { name: 'odir/f', body: 'f', uid: 0, gid: 0 },
      { name: 'olink', type: 'symlink', linkname: 'plain', uid: 7, gid: 8 },
      { name: 'sg/f', body: 'f', uid: 0, gid: 0 },
      { name: 'sg/d/', type: 'directory', uid: 0, gid: 0 },
      { name: 'sg/implicit/f', body: 'f', uid: 0, gid: 0 }, // sg/implicit is created with sg's group
      { name: 'sg/l', type: 'symlink', linkname: 'f', uid: 0, gid: 0 },
      { name: 'sg/g', body: 'g', uid: 0, gid: 4321 },
    ]);
    const owner = async (p: string): Promise<string> => {
      const st = await lstat(join(R, p));
      return `${st.uid}:${st.gid}`;
    };
    expect(await owner('plain')).toBe('0:0');
    expect(await owner('other')).toBe('1234:5678');
    expect(await owner('odir')).toBe('1234:5678');
    expect(await owner('odir/f')).toBe('0:0');
    expect(await owner('olink')).toBe('7:8');
    expect(await owner('sg/f')).toBe('0:0');
    expect(await owner('sg/d')).toBe('0:0');
    expect(await owner('sg/implicit')).toBe('0:4321');
    expect(await owner('sg/implicit/f')).toBe('0:0');
    expect(await owner('sg/l')).toBe('0:0');
    expect(await owner('sg/g')).toBe('0:4321');
  });

  it('keeps our ownership when preserveOwnership is off', async () => {
    await applyEntries(R, [{ name: 'f', body: 'f', uid: 1234, gid: 5678 }], { preserveOwnership: false });
    const st = await lstat(join(R, 'f'));
    expect(`${st.uid}:${st.gid}`).toBe('0:0');
  });
});

describe('cancellation', () => {
  it('an abort in the middle of a layer stops it with EABORT before the next entry', async () => {
    const tarBytes = await makeTar([
      { name: 'a', body: 'a' },
      { name: 'big', body: Buffer.alloc(256 * 1024, 1) },
      { name: 'z', body: 'z' },
    ]);
    const src = new PassThrough();
    const ac = new AbortController();
    const p = applyLayer(R, src, { signal: ac.signal });
    src.write(tarBytes.subarray(0, 1024 + 512 + 4096)); // a, then the head of big
    while (!(await exists(join(R, 'big')))) await new Promise((r) => setTimeout(r, 2));
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'EABORT' });
    src.end(tarBytes.subarray(1024 + 512 + 4096));
    expect(await exists(join(R, 'z'))).toBe(false);
    await expect(applyEntries(R, [{ name: 'y', body: 'y' }], { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'EABORT' });
    expect(await exists(join(R, 'y'))).toBe(false);
  });
});
