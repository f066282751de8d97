// `system service`: the Docker-compatible API on node:http. It listens on a unix socket (0600, owner only), on
// the sockets systemd passes (LISTEN_FDS), or on tcp:// when asked; it exits after `idleSeconds` with no open
// connection and no request in flight (0: never). It holds no container state the store does not record:
// containers run under their own monitors and outlive it (a created container it keeps mounted is recorded so).
import { createServer, type Server } from 'node:http';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SkiffError } from '../../shared/errors.ts';
import { revalidateContainersConf } from '../../shared/config/containers-conf.ts';
import type { ServiceContext } from './context.ts';
import { releaseCreatedMounts } from './created-mounts.ts';
import { DEFAULT_MAX_LOAD_BYTES } from './http-util.ts';
import { handleRequest, handleUpgrade } from './router.ts';

/** Where the service listens. */
export type ListenTarget = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number } | { kind: 'fds'; fds: number[] };

/** The default socket: /run/skiff/skiff.sock for root, $XDG_RUNTIME_DIR/skiff/skiff.sock for other users. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (uid === 0) return '/run/skiff/skiff.sock';
  if (!env.XDG_RUNTIME_DIR) throw new SkiffError('EINVALID', 'XDG_RUNTIME_DIR is not set: set it, or name the socket (unix:///PATH)');
  return join(env.XDG_RUNTIME_DIR, 'skiff', 'skiff.sock');
}

/**
 * Where to listen: LISTEN_FDS sockets (when LISTEN_PID is unset or this process), else `uri` (`unix:///PATH`,
 * `tcp://HOST:PORT`), else the default socket. EINVALID for another scheme. Pure but for the default's env.
 */
export function listenTarget(uri: string | undefined, env: NodeJS.ProcessEnv = process.env, pid = process.pid): ListenTarget {
  const n = Number(env.LISTEN_FDS ?? '0');
  if (n > 0 && (!env.LISTEN_PID || Number(env.LISTEN_PID) === pid)) return { kind: 'fds', fds: Array.from({ length: n }, (_, i) => 3 + i) };
  if (uri === undefined || uri === '') return { kind: 'unix', path: defaultSocketPath(env) };
  if (uri.startsWith('unix://')) {
    const path = uri.slice('unix://'.length);
    if (!path.startsWith('/')) throw new SkiffError('EINVALID', `invalid URI ${JSON.stringify(uri)}: want unix:///ABSOLUTE/PATH`);
    return { kind: 'unix', path };
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/]+):([0-9]{1,5})$/.exec(uri);
  if (m) return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  throw new SkiffError('EINVALID', `invalid URI ${JSON.stringify(uri)}: want unix:///PATH or tcp://HOST:PORT`);
}

/** serveApi's options. */
export interface ServeOptions {
  root: string;
  version: string;
  target: ListenTarget;
  /** Exit after this many seconds idle; 0 never. */
  idleSeconds: number;
  /** The largest archive POST /images/load accepts (DEFAULT_MAX_LOAD_BYTES when unset). */
  maxLoadBytes?: number;
  onWarning?: (message: string) => void;
  /** Stops the service (SIGTERM/SIGINT). */
  signal?: AbortSignal;
}

async function listen(server: Server, t: ListenTarget): Promise<() => Promise<void>> {
  if (t.kind === 'fds') {
    await Promise.all(t.fds.map((fd) => new Promise<void>((ok, bad) => server.once('error', bad).listen({ fd }, () => ok()))));
    return async () => {};
  }
  if (t.kind === 'tcp') {
    await new Promise<void>((ok, bad) => server.once('error', bad).listen(t.port, t.host, () => ok()));
    return async () => {};
  }
  await mkdir(dirname(t.path), { recursive: true, mode: 0o700 });
  await rm(t.path, { force: true });
  const old = process.umask(0o177);
  try {
    await new Promise<void>((ok, bad) => server.once('error', bad).listen(t.path, () => ok()));
  } finally {
    process.umask(old);
  }
  await chmod(t.path, 0o600);
  return () => rm(t.path, { force: true });
}

/** Serves the API until idle for `idleSeconds` or `signal` aborts; resolves once the listener is closed. */
export async function serveApi(o: ServeOptions): Promise<void> {
  // a long-lived process: containers.conf is read again whenever its files change, never served stale
  revalidateContainersConf();
  const ctx: ServiceContext = { root: o.root, version: o.version, maxLoadBytes: o.maxLoadBytes ?? DEFAULT_MAX_LOAD_BYTES };
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  let done!: () => void;
  const finished = new Promise<void>((ok) => (done = ok));
  const server = createServer((req, res) => void handleRequest(ctx, req, res));
  server.on('upgrade', (req, socket, head: Buffer) => {
    // what came right behind the request head (attach's first stdin bytes) belongs to the raw stream
    if (head.length > 0) socket.unshift(head);
    void handleUpgrade(ctx, req, socket);
  });
  const arm = (): void => {
    clearTimeout(timer);
    timer = open === 0 && o.idleSeconds > 0 ? setTimeout(() => server.close(() => done()), o.idleSeconds * 1000) : undefined;
  };
  server.on('connection', (socket) => {
    open++;
    arm();
    socket.once('close', () => {
      open--;
      arm();
    });
  });
  if (o.target.kind === 'tcp') o.onWarning?.(`the API listens on tcp://${o.target.host}:${o.target.port} without authentication: anyone who reaches it controls this machine`);
  const cleanup = await listen(server, o.target);
  o.signal?.addEventListener('abort', () => {
    server.close(() => done());
    server.closeAllConnections();
  }, { once: true });
  arm();
  await finished;
  clearTimeout(timer);
  await releaseCreatedMounts();
  await cleanup();
}
