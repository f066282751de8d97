// Test helpers for end-to-end copy-tool tests: run the built CLI (and skopeo), and a counting HTTP proxy that
// records every request a client makes to a registry.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');

/** Path of the built copy-tool bundle (`npm run build`). */
export const COPY_TOOL = join(repo, 'bin', 'copy-tool.mjs');

/** Options for one CLI run. */
export interface RunOpts {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  timeout?: number;
}

function envOf(o: RunOpts): NodeJS.ProcessEnv {
  return { ...process.env, ...o.env };
}

/** Runs `copy-tool ARGS` synchronously with the running Node; stdout/stderr as text. */
export function ct(args: string[], o: RunOpts = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [COPY_TOOL, ...args], {
    encoding: 'utf8',
    env: envOf(o),
    timeout: o.timeout ?? 60_000,
    ...(o.input !== undefined ? { input: o.input } : {}),
  });
}

/** Runs `copy-tool ARGS` with stdout as raw bytes (archives on stdout). */
export function ctRaw(args: string[], o: RunOpts = {}): SpawnSyncReturns<Buffer> {
  return spawnSync(process.execPath, [COPY_TOOL, ...args], { env: envOf(o), timeout: o.timeout ?? 60_000, maxBuffer: 1 << 30 });
}

/** Runs `copy-tool ARGS` asynchronously (parallel runs). */
export function ctAsync(args: string[], o: RunOpts = {}): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [COPY_TOOL, ...args], { env: envOf(o), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', rej);
    child.on('close', (status, signal) => res({ status, signal, stdout, stderr }));
  });
}

/** Runs skopeo synchronously. */
export function skopeo(args: string[], o: RunOpts = {}): SpawnSyncReturns<string> {
  return spawnSync('skopeo', args, { encoding: 'utf8', env: { ...process.env, ...o.env }, timeout: o.timeout ?? 60_000, ...(o.input !== undefined ? { input: o.input } : {}) });
}

/** skopeo's stdout as JSON; throws with its stderr when it fails. */
export function skopeoJson<T = Record<string, unknown>>(args: string[]): T {
  const r = skopeo(args);
  if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** copy-tool's stdout as JSON; throws with its stderr when it fails. */
export function ctJson<T = Record<string, unknown>>(args: string[], o: RunOpts = {}): T {
  const r = ct(args, o);
  if (r.status !== 0) throw new Error(`copy-tool ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Asserts-free check: throws with stderr when a run failed. */
export function ok<T extends SpawnSyncReturns<string | Buffer>>(r: T, what = 'command'): T {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status} (${r.signal ?? ''}): ${r.stderr.toString()}`);
  return r;
}

/** One request seen by the counting proxy. */
export interface SeenRequest {
  method: string;
  path: string;
  status: number;
}

/** A plain-HTTP reverse proxy on 127.0.0.1 in front of `target` (`host:port`) recording every request. */
export interface CountingProxy {
  host: string;
  requests: SeenRequest[];
  /** Answers the next `n` requests matching `match` with `status` instead of forwarding them. */
  failNext(n: number, match: (method: string, path: string) => boolean, status?: number): void;
  stop(): Promise<void>;
}

/** Starts a counting proxy; Location headers pointing at the target are rewritten to the proxy. */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const [thost, tport] = target.split(':');
  const requests: SeenRequest[] = [];
  let self = '';
  const faults: { n: number; match: (method: string, path: string) => boolean; status: number }[] = [];
  const server: Server = createServer((req, res) => {
    const fault = faults.find((f) => f.n > 0 && f.match(req.method ?? '', req.url ?? ''));
    if (fault) {
      fault.n--;
      requests.push({ method: req.method ?? '', path: req.url ?? '', status: fault.status });
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/json' });
      return void res.end('{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}');
    }
    const up = httpRequest({ host: thost, port: Number(tport), method: req.method, path: req.url, headers: { ...req.headers, host: target } }, (ures) => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', status: ures.statusCode ?? 0 });
      const headers = { ...ures.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`//${target}`, `//${self}`);
      res.writeHead(ures.statusCode ?? 502, headers);
      ures.pipe(res);
    });
    up.on('error', () => {
      res.statusCode = 502;
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  self = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host: self,
    requests,
    failNext: (n, match, status = 503) => void faults.push({ n, match, status }),
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
