// Starting and stopping an API service for a test: skiff's `run-tool system service` or podman's `podman system
// service`, each on a private unix socket over a private store, waited for by /_ping and killed by PID; and the
// private world (scratch dir, store with busybox, socket path, optionally a podman store) each API test file sets up.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { buildRunTool, rt } from '../e2e/run-tool/core-helpers.ts';
import { makeBusyboxImage } from './busybox.ts';
import { scratchDir } from './tmp.ts';

/** A running API service: its socket path and process; `stop()` SIGKILLs it by PID and resolves once it is gone. */
export interface ApiService {
  sock: string;
  proc: ChildProcess;
  stop: () => Promise<void>;
}

/** One HTTP reply over a unix socket: status, headers and the whole body as text. */
export interface ApiReply {
  status: number;
  headers: Record<string, unknown>;
  text: string;
}

/** One HTTP request to the service on `sock`; JSON content type unless `headers` says otherwise. Rejects on a socket error. */
export function apiCall(sock: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string | number> = {}): Promise<ApiReply> {
  return new Promise((ok, bad) => {
    const req = request({ socketPath: sock, agent: false, method, path, headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString() }));
    });
    req.on('error', bad);
    req.end(body);
  });
}

/** Resolves once the service on `sock` answers /_ping with 200 (a socket file left by a dead service does not count); throws if `proc` exits first or after ~20 s. */
export async function waitForApi(sock: string, proc: ChildProcess, tries = 400): Promise<void> {
  for (let i = 0; i < tries && proc.exitCode === null && proc.signalCode === null; i++) {
    if (await apiCall(sock, 'GET', '/_ping').then((r) => r.status === 200, () => false)) return;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`no service answered on ${sock}`);
}

/** Sends `sig` to `proc` by its PID and resolves when it has exited (at once when it already has). */
export function stopProcess(proc: ChildProcess, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    proc.once('exit', () => ok());
    process.kill(proc.pid!, sig);
  });
}

async function started(proc: ChildProcess, sock: string): Promise<ApiService> {
  try {
    await waitForApi(sock, proc);
  } catch (e) {
    await stopProcess(proc);
    throw e;
  }
  return { sock, proc, stop: () => stopProcess(proc) };
}

/**
 * Starts skiff's `system service` of the run-tool bundle over store `root` on `unix://sock` (`extra` goes before the
 * URL, e.g. ['-t', '0']) and resolves once it answers.
 */
export function startApiService(o: { bundle: string; root: string; sock: string; extra?: string[]; env?: NodeJS.ProcessEnv; stdio?: StdioOptions }): Promise<ApiService> {
  const proc = spawn(process.execPath, [o.bundle, '--root', o.root, 'system', 'service', ...(o.extra ?? ['-t', '0']), `unix://${o.sock}`], { stdio: o.stdio ?? ['ignore', 'ignore', 'inherit'], env: o.env ?? process.env });
  return started(proc, o.sock);
}

/**
 * Starts `podman system service -t 0` on `unix://sock`; `podmanArgs` must give it a private store (--root, --runroot,
 * --tmpdir, --network-config-dir) so that it never touches /run/libpod of other tests.
 */
export function startPodmanService(o: { podmanArgs: string[]; sock: string; env?: NodeJS.ProcessEnv }): Promise<ApiService> {
  const proc = spawn('podman', [...o.podmanArgs, 'system', 'service', '-t', '0', `unix://${o.sock}`], { stdio: ['ignore', 'ignore', 'ignore'], env: o.env ?? process.env });
  return started(proc, o.sock);
}

/** A private world for an API test file: its scratch dir, a store holding localhost/busybox, the service's socket path. */
export interface ApiWorld {
  /** The built run-tool the service and the test's CLI calls run. */
  bundle: string;
  /** The scratch dir (tmpfs) everything of the file lives in. */
  dir: string;
  /** The skiff store, with localhost/busybox. */
  root: string;
  /** Where skiff's service listens (`<dir>/api.sock`); nothing listens until the test starts a service. */
  sock: string;
  /** With `podman`: podman's private store flags (--root, --runroot, --tmpdir, --network-config-dir), busybox loaded. */
  podmanArgs: string[];
  /** With `podman`: the environment podman runs with (a private containers.conf). */
  podmanEnv: NodeJS.ProcessEnv;
  /** With `podman`: where podman's service listens (`<dir>/podman.sock`). */
  podmanSock: string;
  /** Removes every container of both stores, unmounts what is left under `dir`, then deletes `dir`. Stop services first. */
  close: () => Promise<void>;
}

const PODMAN_CONF = '[containers]\ndefault_ulimits = ["nofile=1024:1024","nproc=4096:4096"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n[network]\nnetwork_backend = "netavark"\n';

/**
 * Makes an ApiWorld in a fresh scratch dir named `prefix…`: the store with busybox, and with `podman` a private
 * podman store (its own containers.conf) holding the same busybox image. Throws when a set-up step fails.
 */
export async function makeApiWorld(prefix: string, o: { podman?: boolean } = {}): Promise<ApiWorld> {
  const bundle = await buildRunTool();
  const s = await scratchDir(prefix);
  const dir = s.dir;
  const root = join(dir, 'root');
  await makeBusyboxImage(root, dir);
  let podmanArgs: string[] = [];
  let podmanEnv: NodeJS.ProcessEnv = process.env;
  if (o.podman) {
    const conf = join(dir, 'containers.conf');
    writeFileSync(conf, PODMAN_CONF);
    podmanEnv = { ...process.env, CONTAINERS_CONF: conf };
    podmanArgs = ['--root', join(dir, 'podman-root'), '--runroot', join(dir, 'podman-run'), '--tmpdir', join(dir, 'podman-tmp'), '--storage-driver', 'overlay', '--network-config-dir', join(dir, 'podman-net')];
    const archive = join(dir, 'busybox.tar');
    const save = rt(bundle, root, ['save', '-o', archive, 'localhost/busybox']);
    if (save.status !== 0) throw new Error(`run-tool save: ${save.stderr}`);
    const load = spawnSync('podman', [...podmanArgs, 'load', '-i', archive], { encoding: 'utf8', env: podmanEnv, timeout: 120_000 });
    if (load.status !== 0) throw new Error(`podman load: ${load.stderr}`);
  }
  const close = async (): Promise<void> => {
    rt(bundle, root, ['rm', '-a', '-f']);
    if (o.podman) {
      spawnSync('podman', [...podmanArgs, 'rm', '-af', '-t', '0'], { env: podmanEnv });
      spawnSync('podman', [...podmanArgs, 'rmi', '-af'], { env: podmanEnv });
      const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir)).reverse();
      for (const m of mounts) spawnSync('umount', ['-l', m]);
    }
    await s.cleanup();
  };
  return { bundle, dir, root, sock: join(dir, 'api.sock'), podmanArgs, podmanEnv, podmanSock: join(dir, 'podman.sock'), close };
}
