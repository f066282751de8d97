// A waiter that misses the moment between a --rm container's exit and its removal still gets the container's own
// exit code (what `docker run --rm` reads through wait?condition=removed): the cleanup records it under
// <root>/exits before removing the container. The waiters here poll slowly on purpose, so the container is gone
// before they look again.
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../shared/store/store.ts';
import { startContainer, waitContainer } from '../../../run-tool/ops/container-lifecycle.ts';
import { createContainer } from '../../../run-tool/ops/create-container.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { hasConmon } from './core-helpers.ts';

const repo = resolve(import.meta.dirname, '../../..');
let store: Store | undefined;
let cleanup: (() => Promise<void>) | undefined;
const savedScript = process.env.SKIFF_RUN_TOOL_SCRIPT;

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('waiting on a container removed on exit', () => {
  beforeAll(async () => {
    const sd = await scratchDir('skiff-wait-rm-');
    cleanup = sd.cleanup;
    const root = join(sd.dir, 'root');
    await makeBusyboxImage(root, sd.dir);
    process.env.SKIFF_RUN_TOOL_SCRIPT = join(repo, 'bin', 'run-tool.mjs');
    store = await openStore(root, { create: true });
  }, 120_000);
  afterAll(async () => {
    await store?.close();
    if (savedScript === undefined) delete process.env.SKIFF_RUN_TOOL_SCRIPT;
    else process.env.SKIFF_RUN_TOOL_SCRIPT = savedScript;
    await cleanup?.();
  });

  for (const condition of ['removed', 'next-exit'] as const) {
    it(`wait (condition ${condition}) reports the exit code of a --rm container removed between two looks`, async () => {
      const s = store!;
      const r = await createContainer(s, { image: 'busybox', args: ['sh', '-c', 'sleep 0.2; exit 3'], network: 'none', rm: true, pull: 'never' });
      const waiting = waitContainer(s, r.id, { condition, interval: 3000 });
      await startContainer(s, r.id);
      expect(await waiting).toEqual({ id: r.id, exitCode: 3 });
    }, 30_000);
  }

  it('wait (condition not-running) on a running --rm container gets its code after the removal, not "no such container"', async () => {
    const s = store!;
    const r = await createContainer(s, { image: 'busybox', args: ['sh', '-c', 'sleep 0.5; exit 4'], network: 'none', rm: true, pull: 'never' });
    await startContainer(s, r.id);
    expect(await waitContainer(s, r.id, { interval: 3000 })).toEqual({ id: r.id, exitCode: 4 });
  }, 30_000);
});
