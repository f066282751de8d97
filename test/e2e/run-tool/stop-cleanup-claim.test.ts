// `stop` cleans up the container it stops itself and claims that cleanup before signalling: conmon's exit command
// then starts no second run-tool (`container-cleanup`) to race it for the lock and the CPU. A container that exits
// on its own is still cleaned by its exit command, also after an earlier stop claimed a cleanup.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../shared/store/store.ts';
import { startContainer, stopContainer, waitContainer } from '../../../run-tool/ops/container-lifecycle.ts';
import { createContainer } from '../../../run-tool/ops/create-container.ts';
import { loadById } from '../../../run-tool/containers/state.ts';
import { isMountPoint } from '../../../shared/runtime/bundle.ts';
import { containerPaths } from '../../../run-tool/containers/state.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { hasConmon } from './core-helpers.ts';

const repo = resolve(import.meta.dirname, '../../..');
let store: Store | undefined;
let cleanup: (() => Promise<void>) | undefined;
let calls = '';
let shimDir = '';
let flockLog = '';
const savedScript = process.env.SKIFF_RUN_TOOL_SCRIPT;

/** The container-cleanup calls the wrapper logged for `id`. */
function cleanupCalls(id: string): number {
  return existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter((l) => l.includes('container-cleanup') && l.includes(id)).length : 0;
}

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('stop claims the cleanup of the container it stops', () => {
  beforeAll(async () => {
    const sd = await scratchDir('skiff-stop-claim-');
    cleanup = sd.cleanup;
    const root = join(sd.dir, 'root');
    await makeBusyboxImage(root, sd.dir);
    // the exit command runs this wrapper: it logs each call, then runs run-tool as usual
    calls = join(sd.dir, 'calls.log');
    const wrapper = join(sd.dir, 'run-tool-logged.mjs');
    writeFileSync(wrapper, `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(calls)}, process.argv.slice(2).join(' ') + '\\n');\nprocess.argv[1] = ${JSON.stringify(join(repo, 'bin', 'run-tool.mjs'))};\nawait import(${JSON.stringify(join(repo, 'bin', 'run-tool.mjs'))});\n`);
    process.env.SKIFF_RUN_TOOL_SCRIPT = wrapper;
    // the CLI logs each lock it takes there (SKIFF_LOCK_TRACE)
    shimDir = join(sd.dir, 'shim');
    flockLog = join(sd.dir, 'locks.log');
    mkdirSync(shimDir);
    store = await openStore(root, { create: true });
  }, 120_000);
  afterAll(async () => {
    await store?.close();
    if (savedScript === undefined) delete process.env.SKIFF_RUN_TOOL_SCRIPT;
    else process.env.SKIFF_RUN_TOOL_SCRIPT = savedScript;
    await cleanup?.();
  });

  it('stop leaves the container exited and unmounted, and the exit command starts no container-cleanup', async () => {
    const s = store!;
    const r = await createContainer(s, { image: 'busybox', args: ['sh', '-c', 'trap "exit 3" TERM; while :; do sleep 0.05; done'], network: 'none', pull: 'never' });
    await startContainer(s, r.id);
    await stopContainer(s, r.id, { timeout: 10 });
    const c = await loadById(s.paths.root, r.id);
    expect(c?.state).toMatchObject({ status: 'exited', exitCode: 3, mounted: false });
    expect(await isMountPoint(containerPaths(s.paths.root, r.id).rootfs)).toBe(false);
    await sleep(1500); // the exit command would have started by now
    expect(cleanupCalls(r.id)).toBe(0);

    // started again, the container's own exit is cleaned by its exit command: the old claim names the old run only
    const claimed = readFileSync(containerPaths(s.paths.root, r.id).cleanupClaim, 'utf8').trim();
    await startContainer(s, r.id);
    const runId = ((await loadById(s.paths.root, r.id))?.state as { runId?: string }).runId;
    expect(runId).toMatch(/^[0-9a-f]{16}$/);
    expect(claimed).not.toBe(runId);
    await stopContainer(s, r.id, { timeout: 10 });
  }, 60_000);

  it('a container that exits on its own is cleaned up by its exit command', async () => {
    const s = store!;
    const r = await createContainer(s, { image: 'busybox', args: ['sh', '-c', 'exit 5'], network: 'none', pull: 'never' });
    await startContainer(s, r.id);
    expect((await waitContainer(s, r.id)).exitCode).toBe(5);
    for (let i = 0; i < 100 && (await loadById(s.paths.root, r.id))?.state.mounted; i++) await sleep(100);
    expect(cleanupCalls(r.id)).toBe(1);
    expect((await loadById(s.paths.root, r.id))?.state).toMatchObject({ status: 'exited', exitCode: 5, mounted: false });
  }, 60_000);

  it('rm -f of a running container removes it within the cleanup its stop makes: two container locks, not three', async () => {
    const s = store!;
    const r = await createContainer(s, { image: 'busybox', args: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.05; done'], network: 'none', pull: 'never' });
    await startContainer(s, r.id);
    writeFileSync(flockLog, '');
    const out = spawnSync(process.execPath, [join(repo, 'bin', 'run-tool.mjs'), '--root', s.paths.root, 'rm', '-f', '-t', '5', r.id], { encoding: 'utf8', env: { ...process.env, SKIFF_LOCK_TRACE: flockLog }, timeout: 60_000 });
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout.trim()).toBe(r.id);
    expect(await loadById(s.paths.root, r.id)).toBeUndefined();
    expect(existsSync(containerPaths(s.paths.root, r.id).dir)).toBe(false);
    const locks = readFileSync(flockLog, 'utf8').split('\n').filter(Boolean);
    expect(locks.length).toBe(2);
  }, 60_000);

  it('stop sends the stop signal to the recorded init process itself (no runc kill); a pid whose start time no longer matches goes through runc', async () => {
    const s = store!;
    const runcLog = join(shimDir, '..', 'runc.log');
    const runcShim = join(shimDir, '..', 'runc-logged');
    writeFileSync(runcShim, `#!/bin/sh\necho "$*" >> ${runcLog}\nexec ${process.env.SKIFF_RUNC ?? '/usr/sbin/runc'} "$@"\n`);
    chmodSync(runcShim, 0o755);
    const stopCli = (id: string) => spawnSync(process.execPath, [join(repo, 'bin', 'run-tool.mjs'), '--root', s.paths.root, 'stop', '-t', '10', id], { encoding: 'utf8', env: { ...process.env, SKIFF_RUNC: runcShim }, timeout: 60_000 });
    const kills = () => (existsSync(runcLog) ? readFileSync(runcLog, 'utf8').split('\n').filter((l) => / kill /.test(l)) : []);
    const r = await createContainer(s, { image: 'busybox', args: ['sh', '-c', 'trap "exit 4" TERM; while :; do sleep 0.05; done'], network: 'none', pull: 'never' });
    await startContainer(s, r.id);
    const st = (await loadById(s.paths.root, r.id))!.state as { pid: number; pidStart?: string };
    expect(st.pidStart).toMatch(/^[0-9]+$/);
    writeFileSync(runcLog, '');
    const a = stopCli(r.id);
    expect(a.status, a.stderr).toBe(0);
    expect((await loadById(s.paths.root, r.id))?.state).toMatchObject({ status: 'exited', exitCode: 4 });
    expect(kills()).toEqual([]);

    // a recorded start time that is not the live process's: the pid is not trusted, runc signals the container
    await startContainer(s, r.id);
    const sf = join(containerPaths(s.paths.root, r.id).dir, 'state.json');
    writeFileSync(sf, JSON.stringify({ ...JSON.parse(readFileSync(sf, 'utf8')), pidStart: '1' }));
    writeFileSync(runcLog, '');
    const b = stopCli(r.id);
    expect(b.status, b.stderr).toBe(0);
    expect((await loadById(s.paths.root, r.id))?.state).toMatchObject({ status: 'exited', exitCode: 4 });
    expect(kills()).toHaveLength(1);
    expect(kills()[0]).toMatch(new RegExp(`kill ${r.id} (SIG)?TERM$`));
  }, 60_000);
});
