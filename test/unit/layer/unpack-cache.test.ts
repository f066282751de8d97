import { execFile } from 'node:child_process';
import { lstat, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../../shared/oci/digest.ts';
import { chainIDs, ensureUnpacked, isUnpacked, mountOverlay, overlayMountOptions, unmount, type CacheLayer } from '../../../shared/layer/unpack-cache.ts';
import { getXattrs } from '../../../shared/layer/xattr.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { makeTar, type E } from './helpers.ts';

let base: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir: base, cleanup } = await scratchDir('skiff-cache-'));
});
afterEach(() => cleanup());

const exists = async (p: string): Promise<boolean> => !!(await lstat(p).catch(() => undefined));

/** A gzip layer and a counter of how often it was opened. */
async function layer(entries: E[], opts: { diffID?: Digest; blob?: Buffer } = {}): Promise<CacheLayer & { opens: number }> {
  const tar = await makeTar(entries);
  const blob = opts.blob ?? gzipSync(tar);
  const l = {
    diffID: opts.diffID ?? digestOf(tar),
    opens: 0,
    async open(): Promise<Readable> {
      l.opens++;
      return Readable.from([blob.subarray(0, 1000), blob.subarray(1000)]);
    },
  };
  return l;
}

async function leftovers(cache: string): Promise<string[]> {
  return (await readdir(cache)).filter((n) => n.startsWith('.tmp-'));
}

describe('chain IDs', () => {
  it('follow the image-spec recursion', () => {
    const a = digestOf('a');
    const b = digestOf('b');
    const c = digestOf('c');
    const ab = digestOf(`${a} ${b}`);
    expect(chainIDs([a, b, c])).toEqual([a, ab, digestOf(`${ab} ${c}`)]);
    expect(() => chainIDs(['sha256:../../etc' as Digest])).toThrow(/invalid diff_id/);
  });
});

describe.skipIf(!isRoot)('unpacked-layer cache (root)', () => {
  it('unpacks each layer once, in overlay form, and mounts the stack with the whiteout applied', async () => {
    const cache = join(base, 'overlay');
    const l1 = await layer([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/passwd', body: 'root' },
      { name: 'etc/gone', body: 'bye' },
      { name: 'opq/old', body: 'old' },
      { name: 'a/f', body: 'lower file' },
    ]);
    const l2 = await layer([
      { name: 'etc/.wh.gone' },
      { name: 'opq/.wh..wh..opq' },
      { name: 'opq/new', body: 'new' },
      { name: 'b/hl', type: 'link', linkname: 'a/f' },
    ]);
    const dirs = await ensureUnpacked(cache, [l1, l2]);
    const chains = chainIDs([l1.diffID, l2.diffID]);
    expect(dirs).toEqual(chains.map((c) => join(cache, c.slice(7), 'diff')));
    expect(await isUnpacked(cache, chains[1]!)).toBe(true);
    const wh = await lstat(join(dirs[1]!, 'etc/gone'));
    expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
    expect((await getXattrs(join(dirs[1]!, 'opq'))).get('trusted.overlay.opaque')?.toString()).toBe('y');
    expect(await readFile(join(dirs[1]!, 'b/hl'), 'utf8')).toBe('lower file'); // copied from the lower layer
    expect((await lstat(cache)).mode & 0o777).toBe(0o700);
    // a second call is a cache hit
    expect(await ensureUnpacked(cache, [l1, l2])).toEqual(dirs);
    expect([l1.opens, l2.opens]).toEqual([1, 1]);

    const upper = join(base, 'upper');
    const work = join(base, 'work');
    const target = join(base, 'merged');
    for (const d of [upper, work, target]) await mkdir(d);
    const { options, cwd } = await overlayMountOptions(dirs, upper, work);
    expect(cwd).toBe(cache);
    expect(options).toMatch(/^lowerdir=l\/[A-Z0-9]{26}:l\/[A-Z0-9]{26},upperdir=/);
    await mountOverlay({ lowers: dirs, upper, work, target });
    try {
      expect(await readFile(join(target, 'etc/passwd'), 'utf8')).toBe('root');
      expect(await exists(join(target, 'etc/gone'))).toBe(false);
      expect(await readdir(join(target, 'opq'))).toEqual(['new']);
    } finally {
      await unmount(target);
    }
  });

  it('serialises concurrent unpacks of one layer (one unpack, both callers get the dir)', async () => {
    const cache = join(base, 'overlay');
    const l1 = await layer(Array.from({ length: 200 }, (_, i) => ({ name: `f${i}`, body: 'x'.repeat(1000) })));
    const [a, b] = await Promise.all([ensureUnpacked(cache, [l1]), ensureUnpacked(cache, [l1])]);
    expect(a).toEqual(b);
    expect(l1.opens).toBe(1);
    expect((await readdir(a[0]!)).length).toBe(200);
    expect(await leftovers(cache)).toEqual([]);
  });

  it('two processes unpacking one layer: one unpacks, the other reuses it', async () => {
    const cache = join(base, 'overlay');
    const entries: E[] = Array.from({ length: 500 }, (_, i) => ({ name: `d${i % 10}/f${i}`, body: 'y'.repeat(2000) }));
    const tar = await makeTar(entries);
    await writeFile(join(base, 'layer.tgz'), gzipSync(tar));
    const script = join(base, 'worker.ts');
    await writeFile(
      script,
      `import { createReadStream } from 'node:fs';
import { ensureUnpacked } from ${JSON.stringify(join(process.cwd(), 'shared/layer/unpack-cache.ts'))};
let opens = 0;
const [dir] = await ensureUnpacked(process.argv[2], [{ diffID: process.argv[3], open: async () => { opens++; return createReadStream(process.argv[4]); } }]);
console.log(JSON.stringify({ dir, opens }));
`,
    );
    const node = join(process.cwd(), 'node_modules/.bin/node');
    const run = () => new Promise<{ dir: string; opens: number }>((res, rej) =>
      execFile(node, [script, cache, digestOf(tar), join(base, 'layer.tgz')], (e, out) => (e ? rej(e) : res(JSON.parse(out)))),
    );
    const [a, b] = await Promise.all([run(), run()]);
    expect(a.dir).toBe(b.dir);
    expect(a.opens + b.opens).toBe(1);
    expect((await readdir(join(a.dir, 'd3'))).length).toBe(50);
    expect(await leftovers(cache)).toEqual([]);
  });

  it('LA-17 a layer whose content does not match its diffID is rejected and nothing is kept', async () => {
    const cache = join(base, 'overlay');
    const bad = await layer([{ name: 'evil', body: 'x' }], { diffID: digestOf('something else') });
    await expect(ensureUnpacked(cache, [bad])).rejects.toMatchObject({ code: 'EINTEGRITY' });
    expect(await isUnpacked(cache, bad.diffID)).toBe(false);
    expect(await leftovers(cache)).toEqual([]);
    expect(await readdir(join(cache, 'l'))).toEqual([]);
    expect((await readdir(cache)).filter((n) => /^[a-f0-9]{64}$/.test(n))).toEqual([]);
  });

  it('LS-03 a corrupt gzip layer fails the unpack, leaves nothing complete, and a good copy then succeeds', async () => {
    const cache = join(base, 'overlay');
    const entries: E[] = Array.from({ length: 50 }, (_, i) => ({ name: `d/f${i}`, body: `content ${i} `.repeat(200) }));
    const good = gzipSync(await makeTar(entries));
    const corrupt = Buffer.from(good);
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0x55;
    const bad = await layer(entries, { blob: corrupt });
    await expect(ensureUnpacked(cache, [bad])).rejects.toMatchObject({ code: expect.stringMatching(/EINVALID|EINTEGRITY/) });
    expect(await isUnpacked(cache, bad.diffID)).toBe(false);
    expect(await leftovers(cache)).toEqual([]);
    const ok = await layer(entries);
    const [dir] = await ensureUnpacked(cache, [ok]);
    expect((await readdir(join(dir!, 'd'))).length).toBe(50);
  });

  it('LA-15 a layer over the entry limit fails cleanly and its partial rootfs is removed', async () => {
    const cache = join(base, 'overlay');
    const many = await layer(Array.from({ length: 300 }, (_, i) => ({ name: `f${i}` })));
    await expect(ensureUnpacked(cache, [many], { applyLimits: { maxEntries: 100 } })).rejects.toMatchObject({ code: 'ELIMIT' });
    expect(await leftovers(cache)).toEqual([]);
    expect(await isUnpacked(cache, many.diffID)).toBe(false);
  });

  it('an aborted unpack fails with EABORT and leaves no temp dir', async () => {
    const cache = join(base, 'overlay');
    const entries: E[] = Array.from({ length: 2000 }, (_, i) => ({ name: `f${i}`, body: 'x' }));
    const l = await layer(entries);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    await expect(ensureUnpacked(cache, [l], { signal: ac.signal })).rejects.toMatchObject({ code: 'EABORT' });
    expect(await leftovers(cache)).toEqual([]);
    expect(await isUnpacked(cache, l.diffID)).toBe(false);
  });

  it('60 lowers with long cache paths fit one mount page through the l/ short names', async () => {
    const cache = join(base, 'a-rather-long-directory-name-'.repeat(4), 'overlay');
    const layers: CacheLayer[] = [];
    for (let i = 0; i < 60; i++) layers.push(await layer([{ name: `layer-${i}`, body: String(i) }, { name: 'top', body: String(i) }]));
    const dirs = await ensureUnpacked(cache, layers);
    expect(dirs.join(':').length).toBeGreaterThan(4096); // absolute paths would not fit
    const { options } = await overlayMountOptions(dirs);
    expect(options.length).toBeLessThan(4096);
    const target = join(base, 'm');
    await mkdir(target);
    await mountOverlay({ lowers: dirs, target });
    try {
      expect(await readFile(join(target, 'layer-0'), 'utf8')).toBe('0');
      expect(await readFile(join(target, 'layer-59'), 'utf8')).toBe('59');
      expect(await readFile(join(target, 'top'), 'utf8')).toBe('59'); // the last layer is on top
    } finally {
      await unmount(target);
    }
  });
});
