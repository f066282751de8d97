import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPidAlive, removeStaleAtomicTemps, staleAtomicTemps, writeFileAtomic } from '../../../shared/store/atomic.ts';
import { scratchDir } from '../../helpers/tmp.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await scratchDir('skiff-atomic-'));
});
afterAll(() => cleanup());

describe('temp files of atomic replacements', () => {
  it('those of a dead writer are stale; a live writer\'s, other names and directories are not', async () => {
    const dead = join(dir, '.index.json.4194302.00112233aabb.tmp');
    const live = join(dir, `.index.json.${process.ppid}.00112233aabb.tmp`);
    const other = join(dir, '.index.json.4194302.nothex.tmp');
    const asDir = join(dir, '.lease.json.4194302.00112233aabb.tmp');
    for (const f of [dead, live, other]) writeFileSync(f, '{}');
    mkdirSync(asDir);
    await writeFileAtomic(join(dir, 'index.json'), '{}'); // leaves nothing behind
    expect(isPidAlive(process.ppid)).toBe(true);
    expect(isPidAlive(4194302)).toBe(false);
    expect(await staleAtomicTemps(dir)).toEqual([dead]);
    expect(await removeStaleAtomicTemps(dir, { dryRun: true })).toEqual([dead]);
    expect(existsSync(dead)).toBe(true);
    expect(await removeStaleAtomicTemps(dir)).toEqual([dead]);
    expect([dead, live, other, asDir].map((p) => existsSync(p))).toEqual([false, true, true, true]);
    expect(await staleAtomicTemps(join(dir, 'absent'))).toEqual([]);
  });
});
