import { linkSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../../shared/oci/digest.ts';
import { diffUpper } from '../../../shared/layer/diff.ts';
import { addPathEntry, packTree, sortedEntries, TarWriter, type TreeContext } from '../../../shared/layer/tar-write.ts';
import { adoptDir, diffDir, ensureUnpacked, isUnpacked } from '../../../shared/layer/unpack-cache.ts';
import { getXattrs, readTreeXattrs, setXattr } from '../../../shared/layer/xattr.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';

let base: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir: base, cleanup } = await scratchDir('skiff-adopt-'));
});
afterEach(() => cleanup());

const exists = async (p: string): Promise<boolean> => !!(await lstat(p).catch(() => undefined));
const chain = digestOf('some layer') as Digest;
const never = { diffID: chain, open: (): Promise<Readable> => Promise.reject(new Error('must not unpack an adopted layer')) };

async function bytes(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of s) parts.push(b as Buffer);
  return Buffer.concat(parts);
}

/** The reference encoding: every entry added one at a time, nothing read ahead. */
async function sequentialPack(dir: string): Promise<Buffer> {
  const writer = new TarWriter();
  const ctx: TreeContext = { writer, links: new Map(), xattrs: await readTreeXattrs(dir), onWarning: () => {} };
  const walk = async (abs: string, prefix: string): Promise<void> => {
    for (const n of await sortedEntries(abs)) {
      const p = join(abs, n);
      const st = await lstat(p);
      await addPathEntry(ctx, p, prefix + n, st);
      if (st.isDirectory()) await walk(p, `${prefix}${n}/`);
    }
  };
  const out = bytes(writer.stream);
  await walk(dir, '');
  writer.finish();
  return out;
}

describe('read-ahead archiving', () => {
  it('packTree with read-ahead is byte-identical to entry-by-entry packing (sizes around the limit, links, symlinks)', async () => {
    const t = join(base, 't');
    await mkdir(join(t, 'a/b'), { recursive: true });
    for (let i = 0; i < 150; i++) await writeFile(join(t, 'a', `f${i}`), Buffer.alloc(i * 97, i));
    await writeFile(join(t, 'big'), Buffer.alloc((1 << 20) + 1, 7));
    await writeFile(join(t, 'edge'), Buffer.alloc(1 << 20, 8));
    await writeFile(join(t, 'empty'), '');
    linkSync(join(t, 'a/f3'), join(t, 'a/b/hard'));
    await symlink('/etc/passwd', join(t, 'a/b/abs-link')); // LA-20: stays a symlink, never read through
    await setXattr(join(t, 'a/f5'), 'user.note', Buffer.from('x'));
    const a = await bytes(packTree(t));
    expect(a.equals(await sequentialPack(t))).toBe(true);
    expect(a.includes(Buffer.from('root:x:0:0'))).toBe(false);
    expect((await bytes(packTree(t))).equals(a)).toBe(true); // deterministic
  });
});

describe.skipIf(!isRoot)('adopting an upper dir into the unpacked-layer cache (root)', () => {
  it('commits the dir under its chain ID; ensureUnpacked then reuses it without opening the blob', async () => {
    const cache = join(base, 'cache');
    const up = join(base, 'upper');
    await mkdir(join(up, 'etc'), { recursive: true, mode: 0o700 });
    await writeFile(join(up, 'etc/conf'), 'hello');
    await setXattr(join(up, 'etc'), 'trusted.overlay.opaque', Buffer.from('y'));
    await setXattr(join(up, 'etc'), 'trusted.overlay.origin', Buffer.from([0, 1, 2]));
    let xattrs: ReadonlyMap<string, ReadonlyMap<string, Buffer>> | undefined;
    await bytes(diffUpper(up, { onXattrs: (x) => (xattrs = x) }));
    expect(await adoptDir(cache, chain, up, { xattrs: xattrs! })).toBe(true);
    expect(await exists(up)).toBe(false);
    expect(await isUnpacked(cache, chain)).toBe(true);
    const d = diffDir(cache, chain);
    expect(await readFile(join(d, 'etc/conf'), 'utf8')).toBe('hello');
    expect(((await lstat(d)).mode & 0o7777).toString(8)).toBe('755');
    const x = await getXattrs(join(d, 'etc'));
    expect(x.get('trusted.overlay.opaque')?.toString()).toBe('y');
    expect(x.has('trusted.overlay.origin')).toBe(false);
    expect((await readdir(cache)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(await ensureUnpacked(cache, [never])).toEqual([d]);
  });

  it('removes debris of a dead adoption, and leaves the dir alone when the entry is committed already', async () => {
    const cache = join(base, 'cache');
    const hex = chain.slice('sha256:'.length);
    await mkdir(join(cache, `.tmp-${hex}-dead`, 'diff'), { recursive: true });
    await mkdir(join(base, 'u1'));
    await writeFile(join(base, 'u1/a'), '1');
    expect(await adoptDir(cache, chain, join(base, 'u1'))).toBe(true);
    expect(await exists(join(cache, `.tmp-${hex}-dead`))).toBe(false);
    await mkdir(join(base, 'u2'));
    expect(await adoptDir(cache, chain, join(base, 'u2'))).toBe(false);
    expect(await exists(join(base, 'u2'))).toBe(true);
    expect(await readFile(join(diffDir(cache, chain), 'a'), 'utf8')).toBe('1');
  });

  it('falls back (false, nothing committed, dir kept) when the dir is on another filesystem', async () => {
    const other = await mkdtemp(join(tmpdir(), 'skiff-adopt-'));
    try {
      const cache = join(base, 'cache');
      await writeFile(join(other, 'f'), 'x');
      expect(await adoptDir(cache, chain, other)).toBe(false);
      expect(await exists(join(other, 'f'))).toBe(true);
      expect(await isUnpacked(cache, chain)).toBe(false);
      expect((await readdir(cache)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
