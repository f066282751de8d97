import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../../shared/oci/digest.ts';
import { ensureUnpacked } from '../../../shared/layer/unpack-cache.ts';
import { idMapSize, keepIdCacheSuffix, keepIdMappings, keepIdToOuter } from '../../../shared/runtime/keep-id.ts';
import { parseIdMap } from '../../../shared/process/proc.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { applyEntries, makeTar, rootAndVictim } from './helpers.ts';

/** The inside id an outer id shows as through mappings (containerID → hostID), undefined when unmapped. */
function inside(outer: number, maps: { containerID: number; hostID: number; size: number }[]): number | undefined {
  const m = maps.find((x) => outer >= x.hostID && outer < x.hostID + x.size);
  return m ? m.containerID + (outer - m.hostID) : undefined;
}

describe('keep-id id maths', () => {
  it('keepIdToOuter: below the kept id +1, the kept id 0, above unchanged', () => {
    expect([0, 1, 999, 1000, 1001, 1002, 65535].map((x) => keepIdToOuter(x, 1001))).toEqual([1, 2, 1000, 1001, 0, 1002, 65535]);
    expect(keepIdToOuter(0, 0)).toBe(0); // kept id 0: the identity
    expect(keepIdToOuter(5, 0)).toBe(5);
  });

  it('keepIdMappings: 0…U-1 → 1…U, U → 0, U+1… → themselves, within the outer size', () => {
    expect(keepIdMappings(1001, 65537)).toEqual([
      { containerID: 0, hostID: 1, size: 1001 },
      { containerID: 1001, hostID: 0, size: 1 },
      { containerID: 1002, hostID: 1002, size: 64535 },
    ]);
    // an outer namespace smaller than U: the low range is clipped, nothing above U
    expect(keepIdMappings(1001, 101)).toEqual([{ containerID: 0, hostID: 1, size: 100 }, { containerID: 1001, hostID: 0, size: 1 }]);
    expect(keepIdMappings(0, 10)).toEqual([{ containerID: 0, hostID: 0, size: 1 }, { containerID: 1, hostID: 1, size: 9 }]);
  });

  it('the mappings invert keepIdToOuter: every container id that fits round-trips, outer ids are used once', () => {
    for (const [u, size] of [[1001, 65537], [5, 20], [19, 20], [3, 200001]] as const) {
      const maps = keepIdMappings(u, size);
      const seen = new Set<number>();
      for (let x = 0; x < Math.min(size, 3000); x++) {
        const outer = keepIdToOuter(x, u);
        if (outer >= size) continue;
        expect(inside(outer, maps), `${x} (U=${u}, size ${size})`).toBe(x);
        expect(seen.has(outer)).toBe(false);
        seen.add(outer);
      }
      for (const m of maps) expect(m.hostID + m.size).toBeLessThanOrEqual(size);
    }
  });

  it('idMapSize: one past the highest inside id of a uid_map', () => {
    expect(idMapSize(parseIdMap('         0       1001          1\n         1     165536      65536\n'))).toBe(65537);
    expect(idMapSize(parseIdMap('0 1001 1\n1 100000 1000\n1001 300000 5\n'))).toBe(1006);
    expect(idMapSize(parseIdMap(''))).toBe(0);
    expect(keepIdCacheSuffix(1001, 1002)).toBe('-keepid-1001-1002');
  });
});

describe.skipIf(!isRoot)('applyLayer / ensureUnpacked with keep-id\'s mapIds', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir: base, cleanup } = await scratchDir('skiff-keepid-'));
  });
  afterEach(async () => cleanup());

  const shift = (u: number, g: number) => ({ uid: (x: number) => keepIdToOuter(x, u), gid: (x: number) => keepIdToOuter(x, g) });

  it('every entry type is chowned to the shifted ids (root → 1, the kept id → 0, above → unchanged)', async () => {
    const { R } = await rootAndVictim(base);
    await applyEntries(
      R,
      [
        { name: 'etc/', type: 'directory' },
        { name: 'etc/passwd', body: 'root:x:0:0::/root:/bin/sh\n' },
        { name: 'home/', type: 'directory', uid: 1000, gid: 1000 },
        { name: 'home/me', body: 'me', uid: 1001, gid: 1002 },
        { name: 'home/high', body: 'h', uid: 5000, gid: 6000 },
        { name: 'link', type: 'symlink', linkname: 'etc/passwd', uid: 7, gid: 8 },
        { name: 'hard', type: 'link', linkname: 'home/me' },
        { name: 'fifo', type: 'fifo', uid: 1000, gid: 0 },
      ],
      { mapIds: shift(1001, 1002), preserveOwnership: true },
    );
    const own = async (p: string) => {
      const st = await lstat(join(R, p));
      return `${st.uid}:${st.gid}`;
    };
    expect(await own('etc')).toBe('1:1');
    expect(await own('etc/passwd')).toBe('1:1');
    expect(await own('home')).toBe('1001:1001');
    expect(await own('home/me')).toBe('0:0');
    expect(await own('home/high')).toBe('5000:6000');
    expect(await own('link')).toBe('8:9');
    expect(await own('hard')).toBe('0:0'); // a hard link is the same inode
    expect(await own('fifo')).toBe('1001:1');
  });

  it('without mapIds the archive ids are used unchanged (the default cache)', async () => {
    const { R } = await rootAndVictim(base);
    await applyEntries(R, [{ name: 'f', body: 'x', uid: 1000, gid: 1000 }, { name: 'r', body: 'y' }], { preserveOwnership: true });
    expect((await lstat(join(R, 'f'))).uid).toBe(1000);
    expect((await lstat(join(R, 'r'))).uid).toBe(0);
  });

  it('ensureUnpacked passes mapIds to every layer (a lower-layer hard link target copied up keeps the shifted owner)', async () => {
    const l1 = await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/tool', body: 'tool', uid: 0, gid: 0 }, { name: 'data', body: 'd', uid: 1000, gid: 1000 }]);
    const l2 = await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/alias', type: 'link', linkname: 'bin/tool' }, { name: 'mine', body: 'm', uid: 1001, gid: 1001 }]);
    const layer = (b: Buffer) => ({ diffID: digestOf(b), open: async () => Readable.from([b]) });
    const dirs = await ensureUnpacked(join(base, 'cache'), [layer(l1), layer(l2)], { mapIds: shift(1001, 1001), preserveOwnership: true });
    const st = async (d: string, p: string) => {
      const s = await lstat(join(d, p));
      return `${s.uid}:${s.gid}`;
    };
    expect(await st(dirs[0]!, 'bin/tool')).toBe('1:1');
    expect(await st(dirs[0]!, 'data')).toBe('1001:1001');
    expect(await st(dirs[1]!, 'bin/alias')).toBe('1:1');
    expect(await st(dirs[1]!, 'mine')).toBe('0:0');
  });
});
