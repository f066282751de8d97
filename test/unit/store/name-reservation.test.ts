import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SkiffError } from '../../../shared/errors.ts';
import { nameFileOf, releaseName, reserveName } from '../../../shared/store/name-reservation.ts';
import { scratchDir } from '../../helpers/tmp.ts';

describe('name reservations (containers and pods share them)', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let dir: string;
  const live = new Set<string>();
  const o = { ownerExists: async (owner: string) => live.has(owner), inUse: (owner?: string) => new SkiffError('EEXIST', `in use by ${owner ?? '?'}`) };
  beforeEach(async () => {
    s = await scratchDir('skiff-names-');
    dir = join(s.dir, 'names');
    live.clear();
  });
  afterEach(async () => s.cleanup());

  it('two creators racing for one name: exactly one wins, the other gets inUse naming the winner', async () => {
    live.add('a').add('b');
    const r = await Promise.allSettled([reserveName(dir, 'web', 'a', o), reserveName(dir, 'web', 'b', o)]);
    expect(r.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    const winner = (await readFile(nameFileOf(dir, 'web'), 'utf8')).trim();
    expect((r.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason.message).toBe(`in use by ${winner}`);
  });

  it('a reservation whose owner is gone is reclaimed; release only frees the holder\'s own name', async () => {
    await reserveName(dir, 'db', 'dead', o);
    await reserveName(dir, 'db', 'new', o);
    expect((await readFile(nameFileOf(dir, 'db'), 'utf8')).trim()).toBe('new');
    await releaseName(dir, 'db', 'someone-else');
    expect((await readFile(nameFileOf(dir, 'db'), 'utf8')).trim()).toBe('new');
    await releaseName(dir, 'db', 'new');
    await expect(readFile(nameFileOf(dir, 'db'), 'utf8')).rejects.toThrow(/ENOENT/);
  });
});
