// Starting and stopping an API service for a test: skiff's `run-tool system service` or podman's `podman system
// service`, each on a private unix socket over a private store, waited for by /_ping and killed by PID.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { request } from 'node:http';

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
