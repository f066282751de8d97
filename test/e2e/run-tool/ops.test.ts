// The operations layer called as the coming API service will call it: functions with plain options, no CLI, no
// argv, no stdout. A real runc container under conmon goes through create → start → list → stop → wait → rm.
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSkiffError } from '../../../shared/errors.ts';
import { openStore, type Store } from '../../../shared/store/store.ts';
import { killContainer, removeContainer, startContainer, stopContainer, waitContainer } from '../../../run-tool/ops/container-lifecycle.ts';
import { createContainer, runContainer } from '../../../run-tool/ops/create-container.ts';
import { inspectContainer } from '../../../run-tool/ops/inspect.ts';
import { listContainers } from '../../../run-tool/ops/list-containers.ts';
import { listImages } from '../../../run-tool/ops/list-images.ts';
import { removeImage } from '../../../run-tool/ops/remove-image.ts';
import { tagImage, untagImage } from '../../../run-tool/ops/tag-image.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { hasConmon } from './core-helpers.ts';

const repo = resolve(import.meta.dirname, '../../..');
let store: Store | undefined;
let cleanup: (() => Promise<void>) | undefined;
const savedScript = process.env.SKIFF_RUN_TOOL_SCRIPT;

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('run-tool operations called directly', () => {
  beforeAll(async () => {
    const sd = await scratchDir('skiff-ops-');
    cleanup = sd.cleanup;
    const root = join(sd.dir, 'root');
    await makeBusyboxImage(root, sd.dir);
    // the monitor's exit command runs the built run-tool, as it would for an API service
    process.env.SKIFF_RUN_TOOL_SCRIPT = join(repo, 'bin', 'run-tool.mjs');
    store = await openStore(root, { create: true });
  }, 120_000);
  afterAll(async () => {
    if (store) {
      for (const c of await listContainers(store, { all: true })) await removeContainer(store, c.record.id, { force: true }).catch(() => {});
      await store.close();
    }
    if (savedScript === undefined) delete process.env.SKIFF_RUN_TOOL_SCRIPT;
    else process.env.SKIFF_RUN_TOOL_SCRIPT = savedScript;
    await cleanup?.();
  });

  it('create, start, list, stop, wait and remove a container', async () => {
    const s = store!;
    const r = await createContainer(s, { image: 'busybox', name: 'ops-web', args: ['sh', '-c', 'exec sleep 1000'], network: 'none', labels: { app: 'ops' }, pull: 'never' });
    expect(r.id).toMatch(/^[0-9a-f]{64}$/);
    expect(r.name).toBe('ops-web');
    // created, not running: only `all` lists it
    expect((await listContainers(s)).map((c) => c.record.id)).not.toContain(r.id);
    expect((await listContainers(s, { all: true })).find((c) => c.record.id === r.id)?.state.status).toBe('created');

    expect(await startContainer(s, 'ops-web')).toEqual({ id: r.id });
    const running = await listContainers(s, { filters: ['label=app=ops'] });
    expect(running.map((c) => [c.record.id, c.state.status])).toEqual([[r.id, 'running']]);
    const info = await inspectContainer(s, r.id.slice(0, 12));
    expect(info.Id).toBe(r.id);
    expect((info.State as { Running: boolean }).Running).toBe(true);

    expect(await stopContainer(s, r.id, { timeout: 0 })).toEqual({ id: r.id });
    const w = await waitContainer(s, 'ops-web');
    expect(w.id).toBe(r.id);
    expect(w.exitCode).toBe(137); // sleep as PID 1 has no TERM handler: SIGKILL after 0 s
    expect((await listContainers(s, { all: true, filters: ['name=^ops-web$'] }))[0]?.state.status).toMatch(/^(exited|stopped)$/);

    expect(await removeContainer(s, 'ops-web')).toEqual({ id: r.id });
    expect((await listContainers(s, { all: true })).map((c) => c.record.id)).not.toContain(r.id);
    await expect(removeContainer(s, 'ops-web')).rejects.toSatisfy((e: unknown) => isSkiffError(e, 'ENOTFOUND'));
    expect(await removeContainer(s, 'ops-web', { ignoreMissing: true })).toBeUndefined();
    expect(await stopContainer(s, 'ops-web', { ignoreMissing: true })).toBeUndefined();
  }, 120_000);

  it('run detached, kill, wait: the exit code comes back as data', async () => {
    const s = store!;
    const r = await runContainer(s, { image: 'busybox', args: ['sleep', '1000'], network: 'none', detach: true, pull: 'never' });
    expect(r.exitCode).toBeUndefined();
    expect((await listContainers(s)).map((c) => c.record.id)).toContain(r.id);
    expect(await killContainer(s, r.id, { signal: '9' })).toEqual({ id: r.id });
    expect((await waitContainer(s, r.id)).exitCode).toBe(137);
    expect(await removeContainer(s, r.id)).toEqual({ id: r.id });
  }, 120_000);

  it('a start failure names the container and leaves it created', async () => {
    const s = store!;
    const r = await createContainer(s, { image: 'busybox', args: ['/nonexistent'], network: 'none', pull: 'never' });
    const err = await startContainer(s, r.id).then(() => undefined, (e: unknown) => e as Error);
    expect(isSkiffError(err)).toBe(true);
    expect(err?.message).toContain(`unable to start container "${r.id}"`);
    expect(await removeContainer(s, r.id, { force: true })).toEqual({ id: r.id });
  }, 120_000);

  it('image operations: list, tag, untag, remove', async () => {
    const s = store!;
    const before = await listImages(s);
    const bb = before.find((i) => i.names.includes('localhost/busybox:latest'));
    expect(bb).toBeDefined();
    await tagImage(s, 'busybox', ['ops-copy']);
    expect((await listImages(s)).find((i) => i.id === bb!.id)?.names).toContain('localhost/ops-copy:latest');
    expect(await untagImage(s, 'busybox', ['ops-copy'])).toEqual(['localhost/ops-copy:latest']);
    await tagImage(s, 'busybox', ['ops-copy']);
    // by a name that is not the image's last: only that name goes
    expect(await removeImage(s.paths.root, s, 'ops-copy')).toEqual([{ kind: 'Untagged', value: 'localhost/ops-copy:latest' }]);
    expect((await listImages(s)).find((i) => i.id === bb!.id)?.names).toEqual(['localhost/busybox:latest']);
  }, 120_000);
});
