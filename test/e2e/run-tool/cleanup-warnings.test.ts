// A cleanup that cannot tear down a container's network does not stop the command that triggered it, but it is
// not lost either: the operations hand it to onWarning and the commands print it. The container is left as a
// crash leaves it — recorded running on a bridge network, its monitor gone — and the store's network state is
// made unwritable, so the reconciling cleanup's network teardown fails.
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkPaths } from '../../../shared/network/network-config.ts';
import { openStore, type Store } from '../../../shared/store/store.ts';
import { removeContainer } from '../../../run-tool/ops/container-lifecycle.ts';
import { createContainer } from '../../../run-tool/ops/create-container.ts';
import { inspectContainer } from '../../../run-tool/ops/inspect.ts';
import { listContainers } from '../../../run-tool/ops/list-containers.ts';
import { loadContainer, saveState } from '../../../run-tool/containers/state.ts';
import type { StateExt } from '../../../run-tool/containers/start-container.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, rt } from './core-helpers.ts';

let store: Store | undefined;
let root = '';
let cleanup: (() => Promise<void>) | undefined;

/** A pid that no process holds any more: a child that has exited. */
function deadPid(): number {
  const r = spawnSync('true');
  return r.pid!;
}

/** Leaves container `name` as a killed monitor leaves it: running on the bridge network, monitor gone. */
async function crashed(name: string): Promise<string> {
  const r = await createContainer(store!, { image: 'busybox', name, args: ['true'], network: 'bridge', pull: 'never' });
  const c = await loadContainer(root, r.id);
  const state: StateExt = { ...c.state, status: 'running', pid: deadPid(), monitorPid: deadPid(), monitor: 'conmon', startedAt: new Date().toISOString(), network: { mode: 'bridge' } as StateExt['network'] };
  await saveState(root, r.id, state);
  return r.id;
}

describe.skipIf(!isRoot || !hasBusybox)('network teardown failures during a reconciling cleanup are reported', () => {
  beforeAll(async () => {
    const sd = await scratchDir('skiff-warn-');
    cleanup = sd.cleanup;
    root = join(sd.dir, 'root');
    await makeBusyboxImage(root, sd.dir);
    store = await openStore(root, { create: true });
  }, 120_000);
  afterAll(async () => {
    if (root) await rm(networkPaths(root).attachments, { recursive: true, force: true });
    if (store) {
      for (const c of await listContainers(store, { all: true })) await removeContainer(store, c.record.id, { force: true }).catch(() => {});
      await store.close();
    }
    await cleanup?.();
  });

  it('inspectContainer and listContainers (which reconciles every container) hand the failed teardown to onWarning; the container still ends exited', async () => {
    const a = await crashed('warn-list');
    const b = await crashed('warn-inspect');
    const attachments = networkPaths(root).attachments;
    await rm(attachments, { recursive: true, force: true });
    await mkdir(networkPaths(root).dir, { recursive: true });
    await writeFile(attachments, 'not a directory');

    const inspected: string[] = [];
    const info = await inspectContainer(store!, b, { onWarning: (m) => inspected.push(m) });
    expect((info.State as { Status: string }).Status).toBe('exited');
    expect(inspected.join('\n')).toMatch(/attachments/);

    const listed: string[] = [];
    const list = await listContainers(store!, { filters: [`id=${a}`], onWarning: (m) => listed.push(m) });
    expect(list.map((c) => [c.record.id, c.state.status])).toEqual([[a, 'exited']]);
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.join('\n')).toMatch(/attachments/);
  }, 60_000);

  it('ps prints the failed teardown on stderr and still lists the container', async () => {
    const bundle = await buildRunTool();
    const id = await crashed('warn-ps');
    const r = rt(bundle, root, ['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Status}}']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(id);
    expect(r.stderr).toMatch(/^Error: .*attachments/m);
  }, 60_000);
});
