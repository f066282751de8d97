// The API service cleans up the exit of a container it started itself (exit-watch.ts): conmon's exit command then
// starts no `container-cleanup` Node process. The service killed (SIGKILL) in the middle of that cleanup leaves the
// exit command to do it: the container still ends recorded exited, with its code, unmounted. Restart and kill through
// the API clean up the same way (stop cleans up itself); a container created through the API stays mounted for its
// start, unmounted again when the service stops first; containers.conf edited between two creates takes effect.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerPaths, loadById, lockContainer } from '../../../run-tool/containers/state.ts';
import { isMountPoint } from '../../../shared/runtime/bundle.ts';
import { apiCall, makeApiWorld, startApiService, stopProcess, type ApiService, type ApiWorld } from '../../helpers/api-service.ts';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { hasConmon } from './core-helpers.ts';

const repo = resolve(import.meta.dirname, '../../..');
let world: ApiWorld | undefined;
let service: ApiService | undefined;
let calls = '';
let env: NodeJS.ProcessEnv = {};
let conf = '';

/** The container-cleanup calls the exit commands made for `id` (the logging wrapper's lines). */
const cleanupCalls = (id: string): number => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter((l) => l.includes('container-cleanup') && l.includes(id)).length : 0);

/** The state of container `id` once it no longer runs (waited for up to 20 s). */
async function settled(id: string) {
  let c = await loadById(world!.root, id);
  for (let i = 0; i < 400 && (c?.state.status === 'running' || c?.state.status === 'stopping'); i++) {
    await sleep(50);
    c = await loadById(world!.root, id);
  }
  return c;
}

async function create(cmd: string[], hostConfig: Record<string, unknown> = {}): Promise<string> {
  const c = await apiCall(world!.sock, 'POST', '/v1.41/containers/create', JSON.stringify({ Image: 'localhost/busybox', Cmd: cmd, HostConfig: { NetworkMode: 'none', ...hostConfig } }));
  expect(c.status, c.text).toBe(201);
  return (JSON.parse(c.text) as { Id: string }).Id;
}

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('the API service cleans up the exits of the containers it starts', () => {
  beforeAll(async () => {
    world = await makeApiWorld('skiff-api-exit-');
    // the exit commands run this wrapper: it logs each call, then runs run-tool as usual
    calls = join(world.dir, 'calls.log');
    const wrapper = join(world.dir, 'run-tool-logged.mjs');
    const bin = join(repo, 'bin', 'run-tool.mjs');
    writeFileSync(wrapper, `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(calls)}, process.argv.slice(2).join(' ') + '\\n');\nprocess.argv[1] = ${JSON.stringify(bin)};\nawait import(${JSON.stringify(bin)});\n`);
    conf = join(world.dir, 'containers.conf');
    writeFileSync(conf, '[containers]\nenv = ["FROM_CONF=one"]\n');
    env = { ...process.env, SKIFF_RUN_TOOL_SCRIPT: wrapper, CONTAINERS_CONF: conf };
    service = await startApiService({ bundle: world.bundle, root: world.root, sock: world.sock, env });
  }, 120_000);
  afterAll(async () => {
    await service?.stop();
    await world?.close();
  });

  it('start, wait: the exit is recorded (code, unmounted) by the service and no container-cleanup starts; AutoRemove too', async () => {
    const w = world!;
    // it runs a moment: an exit before the service has seen the run up is left to the exit command (correct, not this test)
    const id = await create(['sh', '-c', 'sleep 0.3; exit 4']);
    expect((await apiCall(w.sock, 'POST', `/v1.41/containers/${id}/start`)).status).toBe(204);
    expect(JSON.parse((await apiCall(w.sock, 'POST', `/v1.41/containers/${id}/wait`)).text)).toEqual({ StatusCode: 4, Error: null });
    const c = await loadById(w.root, id);
    expect([c?.state.status, c?.state.exitCode, c?.state.mounted]).toEqual(['exited', 4, false]);
    const rm = await create(['sh', '-c', 'exit 6'], { AutoRemove: true });
    const waiting = apiCall(w.sock, 'POST', `/v1.41/containers/${rm}/wait?condition=removed`);
    expect((await apiCall(w.sock, 'POST', `/v1.41/containers/${rm}/start`)).status).toBe(204);
    expect(JSON.parse((await waiting).text)).toEqual({ StatusCode: 6, Error: null });
    expect(await loadById(w.root, rm)).toBeUndefined();
    // a second run of the same container is claimed and cleaned the same way (the claim's token file and its
    // lock are separate files: the token written by the first run never spoils the lock of the next)
    expect((await apiCall(w.sock, 'POST', `/v1.41/containers/${id}/start`)).status).toBe(204);
    expect(JSON.parse((await apiCall(w.sock, 'POST', `/v1.41/containers/${id}/wait`)).text)).toEqual({ StatusCode: 4, Error: null });
    await sleep(1500); // an exit command that did start container-cleanup has logged it by now
    expect([cleanupCalls(id), cleanupCalls(rm)]).toEqual([0, 0]);
    expect(readFileSync(containerPaths(w.root, id).serviceClaim, 'utf8')).toMatch(/^done [0-9a-f]+\n$/);
    expect((await apiCall(w.sock, 'DELETE', `/v1.41/containers/${id}`)).status).toBe(204);
  }, 60_000);

  it('the service SIGKILLed mid-cleanup: the exit command cleans up, the container ends exited with its code and unmounted', async () => {
    const w = world!;
    const id = await create(['sh', '-c', 'sleep 1; exit 5']);
    expect((await apiCall(w.sock, 'POST', `/v1.41/containers/${id}/start`)).status).toBe(204);
    // hold the container lock: the service's cleanup, begun on the exit, waits for it — then the service dies
    const lock = await lockContainer(w.root, id);
    try {
      const exitFile = join(containerPaths(w.root, id).exits, id);
      for (let i = 0; i < 200 && !existsSync(exitFile); i++) await sleep(50);
      expect(existsSync(exitFile)).toBe(true);
      await sleep(500);
      // the service has claimed this exit: its exit command waits and has not started container-cleanup
      expect(cleanupCalls(id)).toBe(0);
      await service!.stop();
    } finally {
      await lock.release();
    }
    let c = await loadById(w.root, id);
    for (let i = 0; i < 400 && c?.state.status === 'running'; i++) {
      await sleep(50);
      c = await loadById(w.root, id);
    }
    expect([c?.state.status, c?.state.exitCode, c?.state.mounted]).toEqual(['exited', 5, false]);
    expect(cleanupCalls(id)).toBe(1);
    service = await startApiService({ bundle: w.bundle, root: w.root, sock: w.sock, env });
    expect((await apiCall(w.sock, 'DELETE', `/v1.41/containers/${id}`)).status).toBe(204);
  }, 60_000);

  it('restart, kill and stop through the API: each exit is cleaned up exactly once, by the service or the stop, and no container-cleanup starts', async () => {
    const w = world!;
    // restart: the stop cleans the old run up itself, the service claims and cleans the new run's exit
    const re = await create(['sh', '-c', 'sleep 0.6; exit 3']);
    expect((await apiCall(w.sock, 'POST', `/v1.41/containers/${re}/start`)).status).toBe(204);
    expect((await apiCall(w.sock, 'POST', `/v1.41/containers/${re}/restart?t=0`)).status).toBe(204);
    const runId = ((await loadById(w.root, re))?.state as { runId?: string }).runId;
    expect(JSON.parse((await apiCall(w.sock, 'POST', `/v1.41/containers/${re}/wait`)).text)).toEqual({ StatusCode: 3, Error: null });
    const c = await loadById(w.root, re);
    expect([c?.state.status, c?.state.exitCode, c?.state.mounted, c?.state.restartCount]).toEqual(['exited', 3, false, 0]);
    expect(readFileSync(containerPaths(w.root, re).serviceClaim, 'utf8')).toBe(`done ${runId}\n`);
    // kill of a container the CLI started (nobody claimed its exit): the service claims it and cleans up
    const k = await create(['sleep', '30']);
    const start = spawnSync(process.execPath, [w.bundle, '--root', w.root, 'start', k], { encoding: 'utf8', env });
    expect(start.status, start.stderr).toBe(0);
    expect((await apiCall(w.sock, 'POST', `/v1.41/containers/${k}/kill?signal=KILL`)).status).toBe(204);
    const killed = await settled(k);
    expect([killed?.state.status, killed?.state.exitCode, killed?.state.mounted]).toEqual(['exited', 137, false]);
    // stop: the stop's own cleanup (its claim keeps the exit command out); the service's watch finds it done
    const st = await create(['sleep', '30']);
    expect((await apiCall(w.sock, 'POST', `/v1.41/containers/${st}/start`)).status).toBe(204);
    expect((await apiCall(w.sock, 'POST', `/v1.41/containers/${st}/stop?t=0`)).status).toBe(204);
    const stopped = await loadById(w.root, st);
    expect([stopped?.state.status, stopped?.state.exitCode, stopped?.state.mounted]).toEqual(['exited', 137, false]);
    await sleep(1500); // an exit command that did start container-cleanup has logged it by now
    expect([cleanupCalls(re), cleanupCalls(k), cleanupCalls(st)]).toEqual([0, 0, 0]);
    for (const id of [re, k, st]) expect((await apiCall(w.sock, 'DELETE', `/v1.41/containers/${id}`)).status).toBe(204);
  }, 90_000);

  it('a created container stays mounted for its start; the service stopping first unmounts it; containers.conf edits take effect', async () => {
    const w = world!;
    const a = await create(['true']);
    expect([(await loadById(w.root, a))?.state.mounted, await isMountPoint(containerPaths(w.root, a).rootfs)]).toEqual([true, true]);
    const inspectEnv = async (id: string) => ((JSON.parse((await apiCall(w.sock, 'GET', `/v1.41/containers/${id}/json`)).text) as { Config: { Env: string[] } }).Config.Env);
    expect(await inspectEnv(a)).toContain('FROM_CONF=one');
    // edited on disk between two creates: the second create sees the edit (the service never serves the old file)
    writeFileSync(conf, '[containers]\nenv = ["FROM_CONF=two"]\n');
    const b = await create(['true']);
    expect(await inspectEnv(b)).toContain('FROM_CONF=two');
    expect(await inspectEnv(b)).not.toContain('FROM_CONF=one');
    // a started one runs from that mount and is unmounted by its cleanup
    expect((await apiCall(w.sock, 'POST', `/v1.41/containers/${b}/start`)).status).toBe(204);
    expect(JSON.parse((await apiCall(w.sock, 'POST', `/v1.41/containers/${b}/wait`)).text)).toEqual({ StatusCode: 0, Error: null });
    expect((await loadById(w.root, b))?.state.mounted).toBe(false);
    // the service stops before `a` is started: it unmounts it and records that
    await stopProcess(service!.proc, 'SIGTERM');
    expect([(await loadById(w.root, a))?.state.mounted, await isMountPoint(containerPaths(w.root, a).rootfs)]).toEqual([false, false]);
    service = await startApiService({ bundle: w.bundle, root: w.root, sock: w.sock, env });
    expect((await apiCall(w.sock, 'POST', `/v1.41/containers/${a}/start`)).status).toBe(204);
    expect(JSON.parse((await apiCall(w.sock, 'POST', `/v1.41/containers/${a}/wait`)).text)).toEqual({ StatusCode: 0, Error: null });
    for (const id of [a, b]) expect((await apiCall(w.sock, 'DELETE', `/v1.41/containers/${id}`)).status).toBe(204);
  }, 90_000);
});
