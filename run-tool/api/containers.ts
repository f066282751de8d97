// The Docker API's container endpoints, each a translation onto run-tool/ops: Docker's query and JSON in, the
// operation's result out in Docker's shape, logs as Docker's 8-byte multiplexed frames.
import { PassThrough, type Duplex } from 'node:stream';
import { isSkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { claimExitCleanup, nextInProcessCleanup } from '../containers/exit-watch.ts';
import { loadById, loadContainer, type LoadedContainer } from '../containers/state.ts';
import { createContainer } from '../ops/create-container.ts';
import { checkWaitCondition, killContainer, removeContainer, restartContainer, startContainer, stopContainer, waitContainer } from '../ops/container-lifecycle.ts';
import { followContainerLog, openContainerLog, streamLog, type LogEntry } from '../ops/container-logs.ts';
import { inspectContainer } from '../ops/inspect.ts';
import { listContainers } from '../ops/list-containers.ts';
import { renameContainer } from '../ops/rename-container.ts';
import { feedContainerStdin, resizeContainerTty } from '../ops/attach-stdin.ts';
import { topContainer } from '../ops/top-container.ts';
import { copyArchiveIntoContainer, copyOutOfContainer, statInContainer } from '../ops/copy-container.ts';
import { createOptionsOf } from './create-body.ts';
import { holdCreatedMount } from './created-mounts.ts';
import { withApiStore, type ApiRequest } from './context.ts';
import { ApiError, dockerFilters, queryBool, readJson, sendJson } from './http-util.ts';

const dockerStatus = (s: string): string => (s === 'stopped' ? 'exited' : s === 'stopping' ? 'running' : s);

function notFound(e: unknown, name: string): unknown {
  return isSkiffError(e, 'ENOTFOUND') && !/image/i.test(e.message) ? new ApiError(404, `No such container: ${name}`) : e;
}

/** Runs `fn` with the store, turning a missing container into Docker's "No such container: NAME". */
async function onContainer<T>(r: ApiRequest, fn: Parameters<typeof withApiStore<T>>[1]): Promise<T> {
  try {
    return await withApiStore(r.root, fn);
  } catch (e) {
    throw notFound(e, r.params[0] ?? '');
  }
}

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 60 ? `${s} seconds` : s < 3600 ? `${Math.round(s / 60)} minutes` : `${Math.round(s / 3600)} hours`;
}

/** Docker's container list entry of `c`. Pure but for the clock (the Status text). */
export function containerSummary(c: LoadedContainer): Record<string, unknown> {
  const r = c.record;
  const s = c.state;
  const status = dockerStatus(s.status);
  return {
    Id: r.id,
    Names: [`/${r.name}`],
    Image: r.image.name,
    ImageID: r.image.id,
    Command: r.args.join(' '),
    Created: Math.floor(Date.parse(r.created) / 1000),
    Ports: r.hostConfig.portBindings.map((p) => ({ IP: p.hostIP || '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.protocol })),
    Labels: r.config.labels,
    State: status,
    Status: status === 'running' ? `Up ${ago(s.startedAt)}` : status === 'created' ? 'Created' : `Exited (${s.exitCode}) ${ago(s.finishedAt)} ago`,
    HostConfig: { NetworkMode: r.hostConfig.networkMode },
    NetworkSettings: { Networks: {} },
    Mounts: r.mounts.map((m) => ({ Type: m.type, Source: m.source ?? '', Destination: m.destination, RW: !(m.options ?? []).includes('ro') })),
  };
}

/** The Docker status of container `nameOrId` (its inspect's State.Status). */
async function statusOf(store: Store, nameOrId: string): Promise<string> {
  return dockerStatus(String(((await inspectContainer(store, nameOrId)).State as { Status?: string }).Status));
}

/** Runs `fn` on a running container and replies 204; 304 when it does not run (Docker's stop). */
async function stopOrNotModified(r: ApiRequest, fn: (store: Store) => Promise<unknown>): Promise<void> {
  await onContainer(r, async (store) => {
    if (await statusOf(store, r.params[0]!) !== 'running') return void r.res.writeHead(304).end();
    await fn(store);
    r.res.writeHead(204).end();
  });
}

/** GET /containers/json (all, limit, filters): only running containers unless all=1, filtered or not (as Docker and podman's service). */
export async function listHandler(r: ApiRequest): Promise<void> {
  const filters = dockerFilters(r.query);
  const list = await withApiStore(r.root, (store) => listContainers(store, { all: queryBool(r.query, 'all'), filtersImplyAll: false, filters }));
  const limit = Number(r.query.get('limit') ?? '-1');
  sendJson(r.res, 200, (limit > 0 ? list.slice(0, limit) : list).map(containerSummary));
}

/** POST /containers/create?name= */
export async function createHandler(r: ApiRequest): Promise<void> {
  const body = await readJson(r.req);
  const o = createOptionsOf(body, r.query.get('name') ?? undefined);
  const warnings: string[] = [];
  try {
    // the rootfs stays mounted for the start that usually follows (created-mounts.ts); not with a WorkingDir, whose
    // absence a mounted create would report early (podman reports it at the start)
    const keepMounted = o.workdir === undefined;
    const rec = await withApiStore(r.root, (store) => createContainer(store, { ...o, pull: 'never', keepMounted, onWarning: (m) => void warnings.push(m), signal: r.signal }));
    if (keepMounted) holdCreatedMount(r.root, rec.id);
    sendJson(r.res, 201, { Id: rec.id, Warnings: warnings });
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND') && /image/i.test(e.message)) throw new ApiError(404, `No such image: ${o.image}`);
    throw e;
  }
}

/** GET /containers/{id}/json */
export async function inspectHandler(r: ApiRequest): Promise<void> {
  const j = await onContainer(r, (store) => inspectContainer(store, r.params[0]!));
  const state = j.State as Record<string, unknown>;
  state.Status = dockerStatus(String(state.Status));
  // the API serves logs as Docker's json-file driver does: clients (compose) read them only from drivers they know
  // (LogPath stays empty: the file is skiff's k8s-file log, not the json-file one a client could read itself)
  const hostConfig = { ...(j.HostConfig as Record<string, unknown>), LogConfig: { Type: 'json-file', Config: {} } };
  sendJson(r.res, 200, { ...j, Name: `/${String(j.Name)}`, Image: `sha256:${String(j.Image)}`, HostConfig: hostConfig, LogPath: '', Platform: 'linux' });
}

/** POST /containers/{id}/start: 304 when it runs already. */
export async function startHandler(r: ApiRequest): Promise<void> {
  await onContainer(r, async (store) => {
    if (await statusOf(store, r.params[0]!) === 'running') return void r.res.writeHead(304).end();
    // the service cleans up the run's exit itself (no Node start by the exit command; it still does it should the service die)
    await startContainer(store, r.params[0]!, { claimCleanup: claimExitCleanup });
    r.res.writeHead(204).end();
  });
}

/** POST /containers/{id}/stop?t=: 304 when it does not run. */
export async function stopHandler(r: ApiRequest): Promise<void> {
  const t = r.query.get('t');
  await stopOrNotModified(r, (store) => stopContainer(store, r.params[0]!, { ...(t !== null && { timeout: Number(t) }) }));
}

/** POST /containers/{id}/restart?t= */
export async function restartHandler(r: ApiRequest): Promise<void> {
  const t = r.query.get('t');
  // the new run's exit is cleaned up by the service, as start's
  await onContainer(r, (store) => restartContainer(store, r.params[0]!, { ...(t !== null && { timeout: Number(t) }), claimCleanup: claimExitCleanup }));
  r.res.writeHead(204).end();
}

/** POST /containers/{id}/kill?signal= */
export async function killHandler(r: ApiRequest): Promise<void> {
  await onContainer(r, async (store) => {
    // the exit a kill brings is cleaned up by the service (no exit command's Node start), unless another process
    // holds that claim already (the service that started it watches it)
    const c = await loadContainer(r.root, r.params[0]!);
    const claim = c.state.status === 'running' ? await claimExitCleanup(r.root, c.record.id, { ownWaitMs: 0 }) : undefined;
    try {
      await killContainer(store, c.record.id, { signal: r.query.get('signal') || 'KILL' });
    } catch (e) {
      await claim?.release();
      throw e;
    }
    void claim?.watch();
  });
  r.res.writeHead(204).end();
}

/** DELETE /containers/{id}?force=&v= */
export async function removeHandler(r: ApiRequest): Promise<void> {
  await onContainer(r, (store) => removeContainer(store, r.params[0]!, { force: queryBool(r.query, 'force'), volumes: queryBool(r.query, 'v') }));
  r.res.writeHead(204).end();
}

/** POST /containers/{id}/wait?condition=: the status line goes out at once, the JSON when the condition is met. */
export async function waitHandler(r: ApiRequest): Promise<void> {
  const condition = checkWaitCondition(r.query.get('condition') ?? '');
  await onContainer(r, async (store) => {
    // the container must exist before the 200 goes out (a missing one is a 404)
    // an exit the service cleans up itself wakes the wait at once, not at its next poll
    const started = waitContainer(store, r.params[0]!, { condition, signal: r.signal, nudge: nextInProcessCleanup });
    const first = await Promise.race([started.then((v) => ({ v }), (e: unknown) => ({ e })), new Promise<undefined>((ok) => setTimeout(() => ok(undefined), 100))]);
    if (first && 'e' in first) throw first.e;
    r.res.writeHead(200, { 'Content-Type': 'application/json' });
    r.res.flushHeaders();
    try {
      const v = first ? first.v : await started;
      r.res.end(JSON.stringify({ StatusCode: v.exitCode, Error: null }));
    } catch (e) {
      r.res.end(JSON.stringify({ StatusCode: -1, Error: { Message: (e as Error).message } }));
    }
  });
}

/** One entry as Docker's multiplexed frame: stream byte (1 stdout, 2 stderr), three zero bytes, big-endian length. */
export function logFrame(e: LogEntry, timestamps: boolean): Buffer {
  const text = Buffer.from(`${timestamps ? `${e.time} ` : ''}${e.text}`);
  const head = Buffer.alloc(8);
  head[0] = e.stream === 'stderr' ? 2 : 1;
  head.writeUInt32BE(text.length, 4);
  return Buffer.concat([head, text]);
}

function entryFilter(q: URLSearchParams): (e: LogEntry) => boolean {
  const out = queryBool(q, 'stdout');
  const err = queryBool(q, 'stderr');
  const since = Number(q.get('since') ?? '0');
  return (e) => (e.stream === 'stdout' ? out : err) && (!since || Date.parse(e.time) / 1000 >= since);
}

/** GET /containers/{id}/logs: frames without a TTY, raw text with one; follow streams until the container stops. */
export async function logsHandler(r: ApiRequest): Promise<void> {
  const keep = entryFilter(r.query);
  const ts = queryBool(r.query, 'timestamps');
  const tailQ = r.query.get('tail');
  const tail = tailQ === null || tailQ === 'all' ? -1 : Number(tailQ);
  await onContainer(r, async (store) => {
    const j = await inspectContainer(store, r.params[0]!);
    const tty = (j.Config as { Tty?: boolean }).Tty === true;
    let sent = false;
    const send = async (entries: LogEntry[]): Promise<void> => {
      if (!sent) {
        r.res.writeHead(200, { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
        sent = true;
      }
      for (const e of entries.filter(keep)) {
        const chunk = tty ? Buffer.from(`${ts ? `${e.time} ` : ''}${e.text}`) : logFrame(e, ts);
        if (!r.res.write(chunk)) await new Promise((ok) => r.res.once('drain', ok));
      }
    };
    let chain = Promise.resolve();
    await streamLog(store, r.params[0]!, (entries) => void (chain = chain.then(() => send(entries))), { tail, follow: queryBool(r.query, 'follow'), signal: r.signal });
    await chain;
    if (!sent) r.res.writeHead(200, { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
    r.res.end();
  });
}

/** GET /containers/{id}/top?ps_args= */
export async function topHandler(r: ApiRequest): Promise<void> {
  const [titles = [], ...rows] = await onContainer(r, (store) => topContainer(store, r.params[0]!));
  sendJson(r.res, 200, { Titles: titles, Processes: rows });
}

/**
 * POST /containers/{id}/attach on a hijacked connection (`docker run` without -d, compose `up`): the output
 * streams as frames (raw with a TTY) from the container's start until it stops; with stdin=1 what the client sends
 * goes to the container's stdin (a container created with OpenStdin; ops/attach-stdin.ts), its end closing it.
 */
export async function attachUpgraded(r: Omit<ApiRequest, 'res'>, socket: Duplex): Promise<void> {
  const name = r.params[0]!;
  const keep = entryFilter(r.query);
  await withApiStore(r.root, async (store) => {
    let tty = false;
    let openStdin = false;
    let id = '';
    let created = false;
    try {
      const j = await inspectContainer(store, name);
      const config = j.Config as { Tty?: boolean; OpenStdin?: boolean };
      tty = config.Tty === true;
      openStdin = config.OpenStdin === true;
      id = String(j.Id);
      created = (j.State as { Status?: string }).Status === 'created';
    } catch (e) {
      const err = notFound(e, name);
      const msg = JSON.stringify({ message: (err as Error).message });
      socket.end(`HTTP/1.1 ${err instanceof ApiError ? 404 : 500} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(msg)}\r\n\r\n${msg}`);
      return;
    }
    const stream = queryBool(r.query, 'stream');
    // the log is opened before the client sees the upgrade (and so before it can start the container): an AutoRemove
    // container that starts, exits and is removed before the first poll still has its output read from this descriptor
    const log = stream ? await openContainerLog(r.root, id, { create: created }).catch(() => undefined) : undefined;
    socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.${tty ? 'raw' : 'multiplexed'}-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    const ac = new AbortController();
    socket.on('close', () => ac.abort());
    socket.on('error', () => ac.abort());
    // stdin=1 on a container with an open stdin: what the client sends goes to the container (buffered until it runs)
    const input = queryBool(r.query, 'stdin') && openStdin ? new PassThrough() : undefined;
    if (input) socket.pipe(input);
    else socket.resume(); // nothing to read: let the client's end be seen
    if (!stream && !input) return void socket.end();
    if (input) {
      // a container attached before its start: its stdin is fed once it runs (or not at all when it is removed)
      const feed = async (): Promise<void> => {
        while ((await loadById(r.root, id))?.state.status === 'created' && !ac.signal.aborted) await new Promise((ok) => setTimeout(ok, 20));
        await feedContainerStdin(r.root, id, input, { signal: ac.signal });
      };
      void feed().catch(() => {});
    }
    if (!stream) return;
    try {
      if (log) {
        await followContainerLog(r.root, log, (entries) => {
          for (const e of entries.filter(keep)) socket.write(tty ? `${e.text}` : logFrame(e, false));
        }, { follow: true, whileCreated: true, signal: ac.signal }).catch(() => {});
      }
    } finally {
      await log?.close();
    }
    socket.end();
  });
}

async function pathStatHeader(r: ApiRequest, path: string): Promise<string> {
  const st = await onContainer(r, (store) => statInContainer(store, r.params[0]!, path, { signal: r.signal }));
  return Buffer.from(JSON.stringify(st)).toString('base64');
}

function archivePath(q: URLSearchParams): string {
  const p = q.get('path');
  if (!p) throw new ApiError(400, 'path is required: name the path in the container');
  return p;
}

/** HEAD /containers/{id}/archive?path=: the path's stat in X-Docker-Container-Path-Stat. */
export async function archiveHeadHandler(r: ApiRequest): Promise<void> {
  r.res.writeHead(200, { 'X-Docker-Container-Path-Stat': await pathStatHeader(r, archivePath(r.query)) }).end();
}

/** GET /containers/{id}/archive?path=: a tar of the path (`docker cp CONTAINER:PATH …`). */
export async function archiveGetHandler(r: ApiRequest): Promise<void> {
  const path = archivePath(r.query);
  const stat = await pathStatHeader(r, path);
  r.res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': stat });
  await onContainer(r, (store) => copyOutOfContainer(store, r.params[0]!, path, { tar: r.res }, { signal: r.signal }));
}

/**
 * PUT /containers/{id}/archive?path=DIR: the tar body's entries land under DIR, confined to the container's root
 * filesystem; an entry that would climb out of DIR fails the request with 400 before anything is written.
 */
export async function archivePutHandler(r: ApiRequest): Promise<void> {
  const path = archivePath(r.query);
  await onContainer(r, (store) => copyArchiveIntoContainer(store, r.params[0]!, path, r.req, { signal: r.signal }));
  r.res.writeHead(200).end();
}

/** POST /containers/{id}/rename?name=: 409 when another container holds the name. */
export async function renameHandler(r: ApiRequest): Promise<void> {
  const name = r.query.get('name');
  if (!name) throw new ApiError(400, 'name is required: give the new name of the container');
  const { changed } = await onContainer(r, (store) => renameContainer(store, r.params[0]!, name));
  if (!changed) throw new ApiError(400, 'Renaming a container with the same name as its current name');
  r.res.writeHead(204).end();
}

/** POST /containers/{id}/resize?h=&w=: a TTY container's terminal size, through its monitor's control fifo. */
export async function resizeHandler(r: ApiRequest): Promise<void> {
  const h = Number(r.query.get('h'));
  const w = Number(r.query.get('w'));
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) throw new ApiError(400, 'h and w must be positive integers: give the terminal height and width');
  await onContainer(r, (store) => resizeContainerTty(store, r.params[0]!, h, w));
  r.res.writeHead(200).end();
}
