import { mkdirSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../helpers/tmp.ts';
import { isSkiffError } from '../../../shared/errors.ts';
import { storePaths } from '../../../shared/store/paths.ts';
import { containerPaths, lockContainer, newContainerId, removeContainerDir } from '../../../run-tool/containers/state.ts';

/*
 * A container's removal races its monitor's exit command (rootless: the cleanup arrives while `rm -f` deletes
 * the directory). The late party takes the container lock, which used to create `lock` again inside the
 * directory being deleted: the deletion then failed ENOTEMPTY and the directory stayed. Both sides here are the
 * real functions; the directory is made large so the deletion takes long enough to be raced.
 */

describe('container removal racing a late lock taker', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    scratch = await scratchDir('skiff-rmrace-');
  });
  afterAll(async () => scratch?.cleanup());

  const fakeContainer = (root: string): string => {
    const id = newContainerId();
    const p = containerPaths(root, id);
    for (let d = 0; d < 20; d++) {
      const dir = join(p.upper, `d${d}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 100; f++) writeFileSync(join(dir, `f${f}`), 'x');
    }
    writeFileSync(p.record, '{}');
    writeFileSync(p.lock, '');
    return id;
  };

  it('removal completes and the directory stays gone while cleanups keep taking the lock; the losers see "no such container"', async () => {
    const root = join(scratch.dir, 'store');
    for (let round = 0; round < 5; round++) {
      const id = fakeContainer(root);
      const p = containerPaths(root, id);
      const held = await lockContainer(root, id);
      let removed = false;
      const loserErrors: string[] = [];
      const loser = (async () => {
        // as the monitor's exit command: take the lock, do nothing when the container is gone
        while (!removed) {
          try {
            const l = await lockContainer(root, id, { wait: 2000 });
            await l.release();
          } catch (e) {
            if (!isSkiffError(e, 'ENOTFOUND')) loserErrors.push((e as Error).message);
          }
          await new Promise((r) => setImmediate(r));
        }
      })();
      const removal = removeContainerDir(root, id).finally(() => (removed = true));
      await held.release();
      await expect(removal).resolves.toBeUndefined();
      await loser;
      expect(loserErrors).toEqual([]);
      expect(existsSync(p.dir)).toBe(false);
      await expect(lockContainer(root, id, { wait: false })).rejects.toThrow(/no such container/);
      expect(existsSync(p.dir)).toBe(false);
      // idempotent: removing again is done, and no trash is left behind
      await removeContainerDir(root, id);
      expect(readdirSync(storePaths(root).containers)).toEqual([]);
    }
  }, 120_000);
});
