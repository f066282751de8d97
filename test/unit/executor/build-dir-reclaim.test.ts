import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildsRoot, reclaimBuilds } from '../../../shared/build/executor/build-dir.ts';
import { acquireLock } from '../../../shared/store/lock.ts';
import { Runc } from '../../../shared/runtime/runc.ts';

describe('reclaimBuilds (BU-17)', () => {
  let store: string;
  beforeEach(async () => {
    store = await mkdtemp(join(tmpdir(), 'skiff-reclaim-'));
  });
  afterEach(async () => {
    await rm(store, { recursive: true, force: true });
  });
  // no container is named in these dirs: runc is never run
  const runc = async () => new Runc('/usr/sbin/runc', join(store, 'runc'));

  it('removes a state dir whose lock is free, keeps one whose lock is held and one still being made (no lock file yet)', async () => {
    const dead = join(buildsRoot(store), 'dead');
    const live = join(buildsRoot(store), 'live');
    const making = join(buildsRoot(store), 'making');
    for (const d of [dead, live, making]) await mkdir(join(d, 'containers'), { recursive: true });
    await (await acquireLock(join(dead, 'lock'), { wait: false })).release();
    const held = await acquireLock(join(live, 'lock'), { wait: false });
    try {
      expect(await reclaimBuilds(store, runc)).toEqual(['dead']);
      expect([existsSync(dead), existsSync(live), existsSync(making)]).toEqual([false, true, true]);
    } finally {
      await held.release();
    }
  });
});
